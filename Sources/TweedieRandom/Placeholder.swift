// The counter-based random generator lives here.

// The umbrella module: `import Tweedie` brings in the whole library.
@_exported import TweedieCharts
@_exported import TweedieDiffusion
@_exported import TweedieDistributions
@_exported import TweedieEvaluation
@_exported import TweedieIO
@_exported import TweedieInverse
@_exported import TweedieLinearAlgebra
@_exported import TweedieOracle
@_exported import TweedieRandom
@_exported import TweedieRuns
@_exported import TweedieSamplers

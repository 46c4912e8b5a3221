/*
 * tweedie.h: the C ABI of Tweedie (libTweedieC.so, built by `swift build --product TweedieC`).
 *
 * Every function that can fail returns 0 on success and 1 on failure; tweedie_last_error() then
 * holds a one-line message for the calling thread, valid until its next failing call. Objects are
 * opaque handles released with their _free function. Arrays are row-major float64 buffers owned by
 * the caller, read or written in place, with their sizes beside them. No function traps on bad
 * input: every argument is checked and errors come back as messages.
 *
 * The Python package (python/tweedie/_native.py) binds exactly these functions; a test checks that
 * its table and this header agree.
 */
#ifndef TWEEDIE_H
#define TWEEDIE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void *tweedie_model;        /* a model: prior, noise covariance Σ, point shape */
typedef void *tweedie_oracle;       /* a model's exact oracle, factorized once */
typedef void *tweedie_observation;  /* an observation y = A x_0 + n, for guided sampling */

/* A host-language network: writes its output for the rows of x (rows × columns, all at the noise
 * level alpha, sigma) into out (rows × columns) and returns 0, or non-zero on failure. */
typedef int32_t (*tweedie_model_callback)(void *context, const double *x, ptrdiff_t rows, ptrdiff_t columns,
                                          double alpha, double sigma, double *out);

/* Errors and strings */
const char *tweedie_last_error(void);
void tweedie_string_free(char *string);

/* Models */
int32_t tweedie_model_builtin(const char *name, tweedie_model *out);
int32_t tweedie_model_load(const char *path, tweedie_model *out);
int32_t tweedie_model_from_json(const uint8_t *bytes, ptrdiff_t count, tweedie_model *out);
int32_t tweedie_model_from_npz(const uint8_t *bytes, ptrdiff_t count, tweedie_model *out);
int32_t tweedie_model_sizes(tweedie_model model, ptrdiff_t *dimension, ptrdiff_t *components, ptrdiff_t *shape,
                            ptrdiff_t capacity, ptrdiff_t *rank);
/* N atoms, d axes and D' = (N-1)d of a model with a zero centre of mass; zeros without one */
int32_t tweedie_model_subspace(tweedie_model model, ptrdiff_t *atoms, ptrdiff_t *axes, ptrdiff_t *degrees_of_freedom);
int32_t tweedie_model_to_json(tweedie_model model, char **out);
int32_t tweedie_model_save(tweedie_model model, const char *path);
int32_t tweedie_model_log_density(tweedie_model model, const double *x, ptrdiff_t rows, ptrdiff_t columns,
                                  double *out);
void tweedie_model_free(tweedie_model model);

/* The oracle; alpha and sigma hold level_count values (1, or one per row) */
int32_t tweedie_oracle_new(tweedie_model model, const char *precision, tweedie_oracle *out);
void tweedie_oracle_free(tweedie_oracle oracle);
int32_t tweedie_oracle_evaluate(tweedie_oracle oracle, const double *x, ptrdiff_t rows, ptrdiff_t columns,
                                const double *alpha, const double *sigma, ptrdiff_t level_count,
                                double *log_density, double *responsibilities, double *denoised, double *noise,
                                double *standardized_noise, double *score, double *divergence,
                                double *posterior_covariance, double *component_means);
int32_t tweedie_oracle_denoise_level(tweedie_oracle oracle, const double *x, ptrdiff_t rows, ptrdiff_t columns,
                                     double alpha, double sigma, double *out);
int32_t tweedie_oracle_denoise(tweedie_oracle oracle, const double *x, ptrdiff_t rows, ptrdiff_t columns,
                               const double *alpha, const double *sigma, ptrdiff_t level_count, double *out);

/* Certified pruning for data sets (Dirac components, Sigma = I): x0 within tolerance * |x_t| of the
   exact denoiser, certified; bounds, masses and kept (B each, any may be NULL) receive each point's
   error bound, neglected-mass bound and number of components weighed. */
typedef void *tweedie_pruned;
int32_t tweedie_pruned_new(tweedie_model model, double tolerance, tweedie_pruned *out);
void tweedie_pruned_free(tweedie_pruned pruned);
int32_t tweedie_pruned_denoise(tweedie_pruned pruned, const double *x, ptrdiff_t rows, ptrdiff_t columns,
                               const double *alpha, const double *sigma, ptrdiff_t level_count, double *out,
                               double *bounds, double *masses, double *kept);
/* The last pruned tweedie_sample on this thread: 6 values (largest bound, largest bound / |x_t|,
   largest neglected mass, share of components weighed, point-calls answered exactly, point-calls) */
int32_t tweedie_last_certificate(double *out);
/* What top-k truncation and Float32 distances drop, as JSON (free with tweedie_string_free) */
int32_t tweedie_truncation_study(tweedie_model model, const double *ks, ptrdiff_t k_count, ptrdiff_t count,
                                 uint64_t seed, const char *schedule, ptrdiff_t steps, char **out);

/* Time grids by exact KL (Gaussian prior, or a mixture's Gaussian fit; sampler euler, ddim, heun or
   dpmpp-2m): the KL of levels (count decreasing sigma/alpha values, without the final 0) and its
   gradient (count values, may be NULL); the optimal grid for a budget of model calls beside the
   published grids, as JSON (free with tweedie_string_free; sigma_max, sigma_min NaN for the schedule's) */
int32_t tweedie_grid_kl(tweedie_model model, const char *sampler, const double *levels, ptrdiff_t count,
                        double *kl, double *gradient);
int32_t tweedie_schedule_optimize(tweedie_model model, const char *sampler, ptrdiff_t calls, const char *schedule,
                                  double sigma_max, double sigma_min, int32_t keep_end, char **out);

/* The mean (D) and covariance (D x D) of p_0 (either may be NULL); KL(N(m1, s1) || N(m2, s2)) */
int32_t tweedie_model_moments(tweedie_model model, double *mean, double *covariance);
int32_t tweedie_gaussian_kl(ptrdiff_t dimension, const double *m1, const double *s1, const double *m2,
                            const double *s2, double *out);

/* Schedules: alpha, sigma, log-SNR and their derivatives at count times; range receives [t_min, t_max] */
int32_t tweedie_schedule_evaluate(const char *name, const double *times, ptrdiff_t count, double *alpha,
                                  double *sigma, double *log_snr, double *alpha_derivative,
                                  double *sigma_derivative, double *range);

/* Sampling. request is a sampling request in JSON (sampler, sampler_options, schedule, grid, steps,
 * count, seed, batch_size, precision, guidance, network); see docs/math.md §6 and the library's
 * SampleRequest. A request naming a network is driven by callback (model, if not null, supplying
 * Σ); otherwise by model's exact oracle. observation may be null; init (count × D standard
 * normals) may be null; out receives count × D samples. */
int32_t tweedie_observation_new(const double *a, ptrdiff_t observed, ptrdiff_t dimension, const double *y,
                                const double *noise_covariance, double noise_std, tweedie_observation *out);
void tweedie_observation_free(tweedie_observation observation);
int32_t tweedie_sample(tweedie_model model, tweedie_model_callback callback, void *context, const char *request,
                       tweedie_observation observation, const double *init, double *out);

/* Inverse problems and measurements */
int32_t tweedie_posterior(tweedie_model model, const double *a, ptrdiff_t observed, const double *y,
                          const double *noise_covariance, double noise_std, tweedie_model *out,
                          double *log_evidence, double *component_evidence);
int32_t tweedie_sampler_kl(tweedie_model model, const char *sampler, const char *schedule, ptrdiff_t steps,
                           ptrdiff_t count, uint64_t seed, const char *start, double *out);
int32_t tweedie_sampler_path_kl(tweedie_model model, const char *sampler, const char *schedule, ptrdiff_t steps,
                                ptrdiff_t count, uint64_t seed, double *out);
int32_t tweedie_likelihood(tweedie_model model, const char *schedule, const double *x, ptrdiff_t rows,
                           ptrdiff_t columns, const char *prior, ptrdiff_t probes, uint64_t seed, double rtol,
                           double atol, double t_min, double t_max, double *log_likelihood,
                           double *standard_error, double *evaluations);
int32_t tweedie_evaluate(tweedie_model model, const double *samples, ptrdiff_t rows, ptrdiff_t columns,
                         uint64_t seed, ptrdiff_t projections, char **out);

/* Charts: the samples over contours of the model's density, as an SVG file at path */
int32_t tweedie_plot_samples(tweedie_model model, const double *samples, ptrdiff_t rows, ptrdiff_t columns,
                             const char *title, const char *path);

/* Molecules (docs/math.md §13): files in and out, and superposition */
int32_t tweedie_molecules_read(const char *path, const char *selection, char **out);
int32_t tweedie_molecules_write(const char *path, const char *symbols, const double *frames, ptrdiff_t rows,
                                ptrdiff_t columns, const char *titles);
/* A model's oracle under a harmonic (matrix-valued) process (docs/math.md §13.4) */
typedef void *tweedie_harmonic;
int32_t tweedie_harmonic_new(tweedie_model model, const double *atom_matrix, double strength, tweedie_harmonic *out);
void tweedie_harmonic_free(tweedie_harmonic harmonic);
int32_t tweedie_harmonic_evaluate(tweedie_harmonic harmonic, double t, const double *x, ptrdiff_t rows,
                                  ptrdiff_t columns, double *log_density, double *responsibilities, double *denoised,
                                  double *score);
int32_t tweedie_harmonic_sample(tweedie_harmonic harmonic, ptrdiff_t count, uint64_t seed, double t_max, double t_min,
                                ptrdiff_t steps, double rtol, double atol, double *out);
int32_t tweedie_harmonic_noise(tweedie_harmonic harmonic, const double *x0, ptrdiff_t rows, ptrdiff_t columns,
                               double t, uint64_t seed, double *out);
int32_t tweedie_harmonic_likelihood(tweedie_harmonic harmonic, const double *x, ptrdiff_t rows, ptrdiff_t columns,
                                    double t_min, double t_max, double rtol, double atol, double *out);
int32_t tweedie_superpose(const double *moving, const double *target, ptrdiff_t atoms, double *rotation,
                          double *aligned, double *rmsd);

#ifdef __cplusplus
}
#endif

#endif /* TWEEDIE_H */

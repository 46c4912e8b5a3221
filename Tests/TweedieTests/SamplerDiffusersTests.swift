import Foundation
import Testing
import Tweedie

/// Tweedie's deterministic samplers against HuggingFace diffusers' Flax schedulers, run in
/// float64 on a 2-D Gaussian prior (Σ = I) with the exact ε-prediction (Fixtures/
/// diffusers_trajectories.json, made by scripts/make_diffusers_fixtures.py with diffusers 0.35.2).
///
/// Where the conventions coincide the trajectories agree to 1e-10 (relative, |a − b|/(1 + |b|));
/// in practice to ~1e-14. Where they differ the test pins down how:
///
/// - Starting state. `initialState` is x = σ_{t_0} z (k-diffusion, EDM, and diffusers' Euler
///   with "linspace"). diffusers' DDIM and DPM-Solver start at x = z (init_noise_sigma = 1), its
///   Euler with "leading" at x̃ = √(σ̃² + 1) z, i.e. also x = z. Those runs start Tweedie from
///   diffusers' own x.
/// - Final interval. Tweedie's last interval returns x̂_0. diffusers' DDIM does the same with
///   set_alpha_to_one = True; with False its last step (timestep 0 to alphas_cumprod[0]) is the
///   identity, so it returns x at timestep 0. DPM-Solver's last step goes to timestep 0
///   (σ ≈ 0.01), first order when N < 15 (lower_order_final), second order otherwise.
/// - Grids. DDIM has only "leading" (= Tweedie's `leading` with the same steps_offset). Euler's
///   "leading" adds 1 to every timestep (Tweedie: stepsOffset 1); its "linspace" uses fractional
///   timesteps linspace(T−1, 0, N) with σ̃ interpolated linearly between integer timesteps,
///   whereas Tweedie's `linspace` rounds to integer timesteps (as diffusers' DDIM/DDPM do) and
///   interpolates log ᾱ. DPM-Solver's "trailing" equals Tweedie's; its "linspace" and "leading"
///   pick N of N + 1 points (round(linspace(0, T−1, N+1)), j·(T div (N+1))) and differ.
@Suite struct SamplerDiffusersTests {
    struct Run: @unchecked Sendable, CustomTestStringConvertible {
        let json: [String: Any]
        var name: String { json["name"] as! String }
        var testDescription: String { name }
        var steps: Int { json["steps"] as! Int }
        var settings: [String: Any] { json["settings"] as! [String: Any] }
        var integerTimesteps: [Int] { (json["timesteps"] as! [Any]).map { ($0 as! NSNumber).intValue } }
        var timesteps: [Double] { SamplerDiffusersTests.numbers(json["timesteps"]) }
        var alphaBars: [Double] { SamplerDiffusersTests.numbers(json["alpha_bars"]) }
        var scaledSigmas: [Double] { SamplerDiffusersTests.numbers(json["scaled_sigmas"]) }
        var initNoiseSigma: Double { (json["init_noise_sigma"] as! NSNumber).doubleValue }
        /// The samples before the first step and after each step (N + 1), in the scheduler's variables.
        var states: [Matrix] {
            (json["states"] as! [Any]).map { Matrix(rows: z.rows, columns: z.columns, elements: SamplerDiffusersTests.numbers($0)) }
        }
    }

    nonisolated(unsafe) static let root: [String: Any] = {
        guard let url = Bundle.module.resourceURL?.appendingPathComponent("Fixtures/diffusers_trajectories.json"),
              let data = try? Data(contentsOf: url),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return root
    }()

    static let runs: [Run] = ((root["runs"] as? [[String: Any]]) ?? []).map(Run.init)
    static func runs(_ scheduler: String) -> [Run] { runs.filter { ($0.json["scheduler"] as! String) == scheduler } }
    static let ddimRuns = runs("FlaxDDIMScheduler")
    static let eulerRuns = runs("FlaxEulerDiscreteScheduler")
    static let dpmRuns = runs("FlaxDPMSolverMultistepScheduler")

    static func numbers(_ any: Any?) -> [Double] {
        if let v = any as? NSNumber { return [v.doubleValue] }
        if let a = any as? [Any] { return a.flatMap { numbers($0) } }
        return []
    }

    static var z: Matrix {
        let rows = (root["z"] as! [Any]).count
        let values = numbers(root["z"])
        return Matrix(rows: rows, columns: values.count / rows, elements: values)
    }

    static let schedule = Schedule.ddpm()
    static var discrete: DiscreteSchedule { schedule.discrete! }
    static let tolerance = 1e-10

    static func oracle() throws -> Oracle {
        let prior = root["prior"] as! [String: Any]
        let mean = numbers(prior["mean"]), covariance = numbers(prior["covariance"])
        let d = mean.count
        let mixture = try GaussianMixture(weights: [1], means: Matrix(rows: 1, columns: d, elements: mean),
                                          covariances: .full([Matrix(rows: d, columns: d, elements: covariance)]))
        return try Oracle(MixtureModel(prior: mixture))
    }

    /// The trajectory (N + 1 states) of `sampler` on `path` from `start`.
    static func trajectory(_ sampler: any Sampler, path: SamplingPath, from start: Matrix) throws -> [Matrix] {
        let monitor = SamplingMonitor(recordsTrajectory: true)
        _ = try sampler.sample(start, model: try oracle(), path: path, noise: NoiseStream(seed: 0),
                               firstSample: 0, monitor: monitor)
        return monitor.trajectory
    }

    static func error(_ a: Matrix, _ b: Matrix) -> Double { samplerRelativeError(a.elements, b.elements) }

    static func scaled(_ m: Matrix, by c: Double) -> Matrix {
        Matrix(rows: m.rows, columns: m.columns, elements: m.elements.map { $0 * c })
    }

    /// The times (k + 1)/T of diffusers' integer timesteps k.
    static func times(_ timesteps: [Int]) -> [Double] { timesteps.map { discrete.time(timestep: $0) } }

    @Test func fixtureIsPresent() {
        #expect(Self.ddimRuns.count == 4)
        #expect(Self.eulerRuns.count == 4)
        #expect(Self.dpmRuns.count == 6)
        #expect((Self.root["dtype"] as? String)?.hasPrefix("float64") == true)
    }

    /// diffusers' timestep k is Tweedie's step k + 1: alphas_cumprod[k] = ᾱ at t = (k + 1)/T.
    @Test func timestepsMapToSteps() throws {
        for run in Self.ddimRuns + Self.dpmRuns {
            for (k, alphaBar) in zip(run.integerTimesteps, run.alphaBars) {
                let alpha = try Self.schedule.coefficients(at: Self.discrete.time(timestep: k)).alpha
                #expect(abs(alpha * alpha - alphaBar) <= 1e-13 * alphaBar, "\(run.name) timestep \(k)")
                #expect(abs(Self.discrete.alphaBar(step: k + 1) - alphaBar) <= 1e-13 * alphaBar)
            }
        }
    }

    // MARK: DDIM

    @Test(arguments: ddimRuns)
    func ddim(_ run: Run) throws {
        let offset = run.settings["steps_offset"] as! Int
        let toOne = run.settings["set_alpha_to_one"] as! Bool
        // FlaxDDIMScheduler always spaces "leading": Tweedie's leading grid with the same offset.
        let timesteps = try TimeGrid.ddpmTimesteps(trainingSteps: 1000, count: run.steps, spacing: .leading,
                                                   stepsOffset: offset)
        #expect(timesteps == run.integerTimesteps)
        let path = try SamplingPath(schedule: Self.schedule,
                                    times: TimeGrid.ddpm(Self.discrete, count: run.steps, spacing: .leading,
                                                         stepsOffset: offset))
        if offset == 0 {
            #expect(try SamplingPath.make(.leading, schedule: Self.schedule, steps: run.steps).times == path.times)
        }
        // diffusers starts at x = z · init_noise_sigma = z; initialState gives σ_{t_0} z.
        let states = run.states
        #expect(run.initNoiseSigma == 1)
        #expect(Self.error(states[0], Self.z) == 0)
        let n = run.steps
        for sampler in [DDIMSampler(eta: 0), EulerSampler()] as [any Sampler] {
            let ours = try Self.trajectory(sampler, path: path, from: states[0])
            for i in 0..<n {
                #expect(Self.error(ours[i], states[i]) <= Self.tolerance, "\(sampler.name) state \(i)")
            }
            if toOne {
                // Final step to ᾱ = 1: x̂_0, as Tweedie's final interval.
                #expect(Self.error(ours[n], states[n]) <= Self.tolerance, "\(sampler.name) final")
            } else {
                // Final step from timestep 0 to alphas_cumprod[0], the same level: the identity.
                #expect(Self.error(states[n], states[n - 1]) <= 1e-15)
                #expect(Self.error(ours[n - 1], states[n]) <= Self.tolerance, "\(sampler.name) final")
            }
        }
    }

    // MARK: Euler

    /// Tweedie's path through diffusers' σ̃ grid: integer timesteps k at (k + 1)/T; fractional
    /// ones at the time whose σ̃ is diffusers' linearly interpolated σ̃.
    static func eulerPath(_ run: Run) throws -> SamplingPath {
        let sigmas = run.scaledSigmas
        let times = try zip(run.timesteps, sigmas).map { k, s in
            k == k.rounded() ? discrete.time(timestep: Int(k)) : try schedule.time(logSNR: -log(s))
        }
        return try SamplingPath(schedule: schedule, times: times)
    }

    @Test(arguments: eulerRuns)
    func euler(_ run: Run) throws {
        let n = run.steps, sigmas = run.scaledSigmas, states = run.states
        #expect(sigmas.count == n + 1 && sigmas[n] == 0)
        let path = try Self.eulerPath(run)
        for i in 0..<n {
            let s = path.scaledSigma(i)
            #expect(abs(s - sigmas[i]) <= 1e-12 * sigmas[i], "σ̃ at step \(i)")
        }
        let spacing = run.settings["timestep_spacing"] as! String
        if spacing == "leading" {
            // Flax Euler's "leading" is j·(T div N) + 1: Tweedie's leading with steps offset 1.
            #expect(try TimeGrid.ddpmTimesteps(trainingSteps: 1000, count: n, spacing: .leading, stepsOffset: 1)
                .map(Double.init) == run.timesteps)
        }
        // Its sample is x̃ = x/α; x = α x̃ with α = 1/√(1 + σ̃²), and α = 1 at σ̃ = 0.
        func unscaled(_ i: Int) -> Matrix { Self.scaled(states[i], by: 1 / (1 + sigmas[i] * sigmas[i]).squareRoot()) }
        let start = unscaled(0)
        let fromInit = try initialState(count: Self.z.rows, model: try Self.oracle(), path: path,
                                        noise: NoiseStream(seed: 0), standardNormals: Self.z)
        if spacing == "linspace" {
            // init_noise_sigma = σ̃_0: x̃ = σ̃_0 z, x = σ_0 z, which is initialState's.
            #expect(Self.error(fromInit, start) <= 1e-13)
        } else {
            // init_noise_sigma = √(σ̃_0² + 1): x = z, not σ_0 z.
            #expect(Self.error(start, Self.z) <= 1e-15)
            #expect(Self.error(Self.scaled(fromInit, by: 1 / path.levels[0].sigma), Self.z) <= 1e-15)
        }
        for sampler in [EulerSampler(), DDIMSampler(eta: 0)] as [any Sampler] {
            let ours = try Self.trajectory(sampler, path: path, from: start)
            for i in 0...n {
                #expect(Self.error(ours[i], unscaled(i)) <= Self.tolerance, "\(sampler.name) state \(i)")
            }
        }
    }

    // MARK: DPM-Solver++(2M)

    @Test(arguments: dpmRuns)
    func dpmSolverPlusPlus2M(_ run: Run) throws {
        let n = run.steps, states = run.states
        let spacing = run.settings["timestep_spacing"] as! String
        let gridTimes = Self.times(run.integerTimesteps)
        if spacing == "trailing" {
            #expect(try SamplingPath.make(.trailing, schedule: Self.schedule, steps: n).times == gridTimes)
        }
        #expect(run.initNoiseSigma == 1)
        #expect(Self.error(states[0], Self.z) == 0)
        // diffusers' last step goes to timestep 0 (t = 1/T), not σ = 0: give Tweedie that
        // extra grid time; its states 0 … N are then diffusers' states 0 … N.
        let path = try SamplingPath(schedule: Self.schedule, times: gridTimes + [Self.discrete.time(timestep: 0)])
        let ours = try Self.trajectory(DPMSolverPlusPlus2MSampler(), path: path, from: states[0])
        for i in 0..<n {
            #expect(Self.error(ours[i], states[i]) <= Self.tolerance, "state \(i)")
        }
        if n >= 15 {
            // Second-order last step, as Tweedie's.
            #expect(Self.error(ours[n], states[n]) <= Self.tolerance, "final")
        } else {
            // lower_order_final: a first-order (DDIM) last step from the state at t_{N−1}.
            let last = try SamplingPath(schedule: Self.schedule, times: [gridTimes[n - 1], path.times[n]])
            let firstOrder = try Self.trajectory(DDIMSampler(eta: 0), path: last, from: ours[n - 1])
            #expect(Self.error(firstOrder[1], states[n]) <= Self.tolerance, "final (first order)")
            #expect(Self.error(ours[n], states[n]) > 1e-6, "Tweedie's last step is second order")
        }
    }
}

import Foundation
import Testing
import Tweedie

/// The sampler catalogue: text ↔ configuration, the options each sampler reads, and the samplers
/// it builds (the same as built directly).
@Suite struct SamplerConfigurationTests {
    @Test(arguments: ["euler", "heun:s-churn=2:s-noise=1.003", "ddim:eta=0.5", "ddpm:variance=beta",
                      "dpmpp-2m-sde:eta=0.7:s-noise=1", "pc:snr=0.2", "rk45:rtol=1e-08:atol=1e-09", "exact"])
    func textRoundTrips(text: String) throws {
        let configuration = try SamplerConfiguration(parsing: text)
        #expect(configuration.description == text)
        #expect(try SamplerConfiguration(parsing: configuration.description) == configuration)
        #expect(configuration.makeSampler().name == configuration.kind.rawValue)
    }

    @Test(arguments: [
        ("leapfrog", "sampler", "unknown sampler 'leapfrog'"),
        ("euler:eta=1", "eta", "is not an option of the euler sampler (it applies to ddim, dpmpp-2m-sde)"),
        ("ddim:eta=x", "eta", "must be a number"),
        ("ddim:eta=-1", "eta", "must be finite and ≥ 0"),
        ("ddim:eta=1:eta=2", "eta", "is given twice"),
        ("ddim:temperature=1", "sampler", "unknown option 'temperature'"),
        ("ddim:eta", "sampler", "written name:option=value"),
        ("ddpm:variance=large", "variance", "must be beta-tilde or beta"),
        ("heun:s-tmin=2:s-tmax=1", "s-tmax", "must be at least s-tmin"),
    ])
    func badTextIsRefused(text: String, argument: String, reason: String) {
        #expect {
            _ = try SamplerConfiguration(parsing: text)
        } throws: { error in
            guard let error = error as? ArgumentError else { return false }
            return error.argument == argument && error.reason.contains(reason)
        }
    }

    /// A configured sampler is the sampler built directly with those options: same samples.
    @Test func buildsTheSamplerItNames() throws {
        let oracle = try Oracle(BuiltinModels.ring8())
        let path = try SamplingPath.make(.karras, schedule: .vpLinear(), steps: 6)
        let noise = NoiseStream(seed: 4)
        let pairs: [(String, any Sampler)] = [
            ("heun:s-churn=2:s-noise=1.003", HeunSampler(churn: 2, noiseScale: 1.003)),
            ("dpmpp-2m-sde:eta=0.7", DPMSolverPlusPlus2MSDESampler(eta: 0.7)),
            ("ddpm:variance=beta", DDPMSampler(variance: .forward)),
        ]
        for (text, direct) in pairs {
            let configured = try SamplerConfiguration(parsing: text).makeSampler()
            let a = try configured.run(count: 9, model: oracle, path: path, noise: noise).samples
            let b = try direct.run(count: 9, model: oracle, path: path, noise: noise).samples
            #expect(a.elements == b.elements, "\(text)")
        }
    }

    /// Adaptive rk45 takes no step count; every other sampler needs one.
    @Test func stepsFollowTheSampler() throws {
        #expect(throws: ArgumentError.self) { try SamplerConfiguration(.rk45).path(schedule: .vpLinear(), steps: 10) }
        #expect(throws: ArgumentError.self) { try SamplerConfiguration(.heun).path(schedule: .vpLinear(), steps: nil) }
        #expect(try SamplerConfiguration(.rk45).path(schedule: .vpLinear(), steps: nil).steps == 2)
        #expect(try SamplerConfiguration(.heun).path(schedule: .ddpm(), steps: 10).times.count == 10)
    }
}

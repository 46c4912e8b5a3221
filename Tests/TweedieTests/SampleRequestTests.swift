import Foundation
import Testing
@testable import Tweedie

/// The sampling request every door builds: its JSON form, its rules (one message each, spelled
/// per door), and its runs equal to the sampler's own.
@Suite struct SampleRequestTests {
    static func heun(count: Int = 20) throws -> SampleRequest {
        SampleRequest(sampler: try SamplerConfiguration(parsing: "heun:s-churn=1"), schedule: "vp-linear", steps: 6,
                      count: count, seed: 3)
    }

    @Test func aRunIsTheSamplersOwnBitForBit() throws {
        let model = BuiltinModels.ring8()
        let run = try Self.heun().prepare(model: model).run()
        let path = try SamplingPath.make(.karras, schedule: .vpLinear(), steps: 6)
        let direct = try HeunSampler(churn: 1).run(count: 20, model: try Oracle(model), path: path,
                                                   noise: NoiseStream(seed: 3))
        #expect(run.samples.elements == direct.samples.elements)
    }

    @Test func theJSONFormRoundTrips() throws {
        var request = try Self.heun()
        request.grid = .logSNR
        request.batchSize = 7
        request.guidance = .init(.dps, zeta: 0.5)
        request.network = .init(prediction: .epsilon, dimension: 2)
        let decoded = try SampleRequest(json: request.json())
        #expect(decoded == request)
        let text = String(decoding: request.json(), as: UTF8.self)
        #expect(text.contains("\"sampler_options\":{\"s_churn\":1}") && text.contains("\"batch_size\":7"))
    }

    @Test func anExplicitGridIsTheSamplersOwnPath() throws {
        // times given explicitly run the sampler on exactly that path: the Karras times of 6 steps
        // give the Karras run bit for bit, through the JSON form too.
        let model = BuiltinModels.ring8()
        let karras = try SamplingPath.make(.karras, schedule: .vpLinear(), steps: 6)
        var request = try Self.heun()
        request.steps = nil
        request.times = karras.times
        let decoded = try SampleRequest(json: request.json())
        #expect(decoded.times == karras.times)
        let run = try decoded.prepare(model: model).run()
        #expect(run.samples.elements == (try Self.heun().prepare(model: model).run()).samples.elements)
        for (change, message) in [({ (r: inout SampleRequest) in r.steps = 6 }, "not with steps"),
                                  ({ (r: inout SampleRequest) in r.times = [0.5, 0.7] }, "decrease"),
                                  ({ (r: inout SampleRequest) in r.times = [] }, "1 to")] {
            var bad = request
            change(&bad)
            do {
                _ = try bad.prepare(model: model)
                Issue.record("accepted \(bad.times ?? [])")
            } catch let error as RequestError {
                #expect(error.field == "times" && error.description.contains(message), "\(error)")
            }
        }
    }

    @Test func theJSONFormReadsWhatPythonWrites() throws {
        let json = #"{"sampler": "ddim:eta=0.5", "sampler_options": {"s_noise": 1}, "schedule": "edm", "steps": 4, "count": 3}"#
        let error = #expect(throws: RequestError.self) { try SampleRequest(json: Data(json.utf8)) }
        #expect(error?.description == "s_noise is not an option of the ddim sampler (it applies to heun, dpmpp-2m-sde)")
        let ddim = try SampleRequest(json: Data(#"{"sampler": "ddim", "sampler_options": {"eta": 0.5}, "schedule": "edm", "steps": 4, "count": 3, "seed": 18446744073709551615}"#.utf8))
        #expect(ddim.sampler == (try SamplerConfiguration(parsing: "ddim:eta=0.5")))
        #expect(ddim.seed == UInt64.max)
        let nan = try SampleRequest(json: Data(#"{"sampler": "ddim", "schedule": "edm", "steps": 4, "count": 3, "guidance": {"method": "dps", "zeta": "NaN"}}"#.utf8))
        #expect(nan.guidance?.zeta?.isNaN == true)
        // NaN is written back as the string it was read from, not dropped.
        #expect(String(decoding: nan.json(), as: UTF8.self).contains(#""zeta":"NaN""#))
    }

    @Test(arguments: [
        (#"{"schedule": "edm", "count": 3}"#, "sampler", "sampler is needed"),
        (#"{"sampler": "heun", "schedule": "edm", "count": 3, "stpes": 4}"#, "stpes", "'stpes' is not a field of a sampling request"),
        (#"{"sampler": "heun", "schedule": "edm", "count": "3"}"#, "count", "count: expected an integer"),
        (#"{"sampler": "heun", "schedule": "edm", "count": 3, "steps": 2.5}"#, "steps", "steps must be an integer"),
        (#"{"sampler": "heun", "schedule": "edm", "count": 3, "seed": -1}"#, "seed", "seed must be an integer in 0...18446744073709551615"),
        (#"{"sampler": "nope", "schedule": "edm", "count": 3}"#, "sampler", "unknown sampler 'nope'"),
        (#"{"sampler": "heun", "sampler_options": {"wobble": 1}, "schedule": "edm", "count": 3}"#, "wobble", "not a sampler option"),
        (#"{"sampler": "ddpm", "sampler_options": {"variance": 2}, "schedule": "edm", "count": 3}"#, "variance", "must be beta-tilde or beta"),
        (#"{"sampler": "ddim", "sampler_options": {"eta": "x"}, "schedule": "edm", "count": 3}"#, "eta", "eta must be a number"),
        (#"{"sampler": "heun", "schedule": "edm", "count": 3, "grid": "cubic"}"#, "grid", "grid: unknown 'cubic'"),
        (#"{"sampler": "heun", "schedule": "edm", "count": 3, "precision": "float16"}"#, "precision", "unknown 'float16'"),
        (#"{"sampler": "heun", "schedule": "edm", "count": 3, "guidance": {"method": "magic"}}"#, "guidance", "unknown method 'magic'"),
        (#"[1, 2]"#, "request", "not a JSON object"),
        (#"{"sampler": "heun""#, "request", "not a JSON object"),
    ])
    func malformedJSONIsOneMessageNamingTheField(json: String, field: String, message: String) {
        let error = #expect(throws: RequestError.self) { try SampleRequest(json: Data(json.utf8)) }
        #expect(error?.field == field)
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "no error")")
        #expect(error?.description.contains("\n") == false)
    }

    static let observation = try! LinearObservation(operator: Matrix([[1, 0.3]]), y: [1.2], noiseStandardDeviation: 0.5)

    @Test(arguments: [
        ("rk45 with steps", "steps", "--steps is not an option of the rk45 sampler: it is adaptive (--rtol and --atol set its accuracy)"),
        ("no steps", "steps", "--steps is needed by the heun sampler"),
        ("zero steps", "steps", "--steps must be at least 1, got 0"),
        ("zero count", "count", "--count must be at least 1, got 0"),
        ("zero batch", "batch_size", "--batch-size must be at least 1, got 0"),
        ("guidance alone", "guidance", "--guidance needs an observation: --operator, --y and --noise-std or --noise-covariance"),
        ("observation alone", "operator", "--operator, --y and the observation noise need --guidance"),
        ("zeta without dps", "zeta", "--zeta is an option of --guidance dps only"),
        ("zeta nan", "zeta", "--zeta must be finite and positive, got nan"),
        ("float32 guided", "precision", "--precision float32 is for unguided sampling"),
        ("float32 network", "precision", "--precision float32 is for a data-set model's own oracle, not a network"),
        ("exact network", "guidance", "--guidance exact needs a mixture model"),
        ("prune negative", "prune", "--prune must be finite and positive, got -1.0"),
        ("prune exact sampler", "prune", "--prune is for samplers that call a denoiser"),
        ("prune float32", "prune", "--prune is for a data-set model's own Float64 oracle"),
    ])
    func eachRuleHasOneMessage(change: String, field: String, message: String) throws {
        var r = try Self.heun()
        switch change {
        case "rk45 with steps": r.sampler = try SamplerConfiguration(.rk45)
        case "no steps": r.steps = nil
        case "zero steps": r.steps = 0
        case "zero count": r.count = 0
        case "zero batch": r.batchSize = 0
        case "guidance alone": r.guidance = .init(.mmps)
        case "observation alone": r.observation = Self.observation
        case "zeta without dps": (r.guidance, r.observation) = (.init(.mmps, zeta: 2), Self.observation)
        case "zeta nan": (r.guidance, r.observation) = (.init(.dps, zeta: .nan), Self.observation)
        case "float32 guided": (r.precision, r.guidance, r.observation) = (.float32, .init(.dps), Self.observation)
        case "float32 network": (r.precision, r.network) = (.float32, .init(prediction: .x0, dimension: 2))
        case "prune negative": r.prune = -1
        case "prune exact sampler": (r.sampler, r.steps, r.prune) = (try SamplerConfiguration(.exact), 8, 1e-8)
        case "prune float32": (r.precision, r.prune) = (.float32, 1e-8)
        default: (r.guidance, r.observation, r.network) = (.init(.exact), Self.observation, .init(prediction: .x0, dimension: 2))
        }
        let error = #expect(throws: RequestError.self) { try r.validate() }
        #expect(error?.field == field)
        // The command line's spelling; Python's is the field itself.
        let cli = error?.message { "--" + $0.replacingOccurrences(of: "_", with: "-") }
        #expect(cli?.hasPrefix(message) == true, "\(cli ?? "no error")")
        var python = message
        for option in ["--batch-size", "--noise-std", "--noise-covariance"] {
            python = python.replacingOccurrences(of: option, with: option.dropFirst(2).replacingOccurrences(of: "-", with: "_"))
        }
        python = python.replacingOccurrences(of: "--", with: "")
        #expect(error?.description.hasPrefix(python) == true, "\(error?.description ?? "")")
    }

    @Test func theDenoiserIsChosenInOnePlace() throws {
        let model = BuiltinModels.ring8()
        var r = try Self.heun()
        #expect(try r.prepare(model: model).denoiser is Oracle)
        r.network = .init(prediction: .x0, dimension: 2)
        let oracle = try Oracle(model)
        let network: SampleRequest.NetworkFunction = { x, level in try oracle.denoise(x, at: level) }
        let setup = try r.prepare(model: nil, network: network)
        #expect(setup.denoiser is PredictionModel && setup.posterior == nil)
        // A network that is the oracle samples as the oracle does, bit for bit.
        #expect(try setup.run().samples.elements == (try Self.heun().prepare(model: model).run().samples.elements))
        (r.network, r.guidance, r.observation) = (nil, .init(.mmps), Self.observation)
        let guided = try r.prepare(model: model, exactPosterior: true)
        #expect(guided.denoiser is GuidedDenoiser && guided.posterior != nil && guided.reference == guided.posterior?.model)
        r.guidance = .init(.exact)
        #expect(try r.prepare(model: model).denoiser is Oracle)
        r.observation = try LinearObservation(operator: Matrix([[1, 0.3, 2]]), y: [1], noiseStandardDeviation: 1)
        let error = #expect(throws: RequestError.self) { try r.prepare(model: model) }
        #expect(error?.description == "operator has 3 columns; the model's dimension D is 2")
        r = try Self.heun()
        r.precision = .float32
        let precision = #expect(throws: RequestError.self) { try r.prepare(model: model) }
        #expect(precision?.description.hasPrefix("precision: float32 is for data-set models") == true)
    }
}

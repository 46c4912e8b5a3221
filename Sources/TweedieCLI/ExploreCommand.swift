import ArgumentParser
import Foundation
import Tweedie

struct ExploreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explore",
        abstract: "An interactive page of the exact truth of a 2-D model: p_t, its score, a sampler's trajectories "
            + "and its exact error.",
        discussion: """
        Serves a local page (http://HOST:PORT/) showing, at a time t chosen with a slider, the exact log p_t as a \
        heat map with contours and the exact score as arrows; for a sampler and a step count, its trajectories \
        and samples, the mode weights of its samples beside π with their total-variation distance and its \
        sampling floor, the KL to p_0 where it is available, and the same figures against the number of model \
        calls (docs/math.md §14). A model of more than two dimensions is shown on two of its coordinates \
        (--project i,j): the marginal model, exact on that plane. --static DIR writes the page and every view \
        it can ask for into a new folder instead (open DIR/index.html; nothing is computed in the browser). \
        --state prints, as JSON, the views for one setting (--t, --sampler, --steps): the numbers the page shows.
        """)

    @Option(help: "A 2-D built-in model name or a .json/.npz model file (or any, with --project).") var model: String
    @Option(help: "Show the model on these two coordinates, e.g. 0,1 (the marginal model of docs/math.md §14.1).")
    var project: String?
    @Option(help: "Schedule: \(Schedule.allNames.joined(separator: ", ")) (parameters as name:key=value,...).")
    var schedule: String = "vp-cosine"
    @Option(help: "The address to listen on (IPv4).") var host: String = "127.0.0.1"
    @Option(help: "The port to listen on (0: any free port, printed).") var port: Int = 8765
    @Option(name: .customLong("static"),
            help: "Write a static copy of the page into this new folder instead of serving.")
    var staticFolder: String?
    @Flag(help: "Print the views of one setting as JSON (model, density at --t, run and curve of --sampler, --steps).")
    var state = false
    @Option(help: "--state: the time t (any time in the schedule's usable range).") var t: Double?
    @Option(help: "--state: the sampler.") var sampler: SamplerConfiguration.Kind = .heun
    @Option(help: "--state: the number of steps.") var steps: Int = 8
    @Option(help: "Samples behind the mode weights and the KL.") var samples: Int = 2000
    @Option(help: "Trajectories drawn.") var trajectories: Int = 40
    @Option(help: "Seed of the starting noise (sample i uses the noise of (seed, i)).") var seed: UInt64 = 0
    @Option(help: "Positions of the t slider (default 101; 41 with --static).") var sliderPositions: Int?
    @Option(help: "Nodes per side of the density grid.") var gridSize: Int = 96

    func validate() throws {
        if state, staticFolder != nil { throw ValidationError("--state and --static are exclusive") }
        if !state, t != nil { throw ValidationError("--t is for --state (the page has a slider)") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535, got \(port)") }
    }

    func run() throws {
        var m = try loadModel(model)
        if let project {
            let coordinates = try commaSeparated(project, option: "--project",
                                                 invalid: { "'\(printable($0))' is not a coordinate" }) { Int($0) }
            guard coordinates.count == 2 else {
                throw CommandFailure("--project '\(printable(project))': expected two coordinates i,j (e.g. 0,1)")
            }
            m = try m.marginal(onto: coordinates)
        } else if m.dimension != 2 || m.zeroCentreOfMass != nil {
            throw CommandFailure("--model \(m.name ?? model) has dimension \(m.pointDimension); the explorer draws a "
                                 + "plane: name two coordinates with --project i,j")
        }
        let positions = sliderPositions ?? (staticFolder == nil ? 101 : 41)
        let explorer = try Explorer(model: m, schedule: schedule, sliderPositions: positions, gridSize: gridSize,
                                    trajectoryCount: trajectories, sampleCount: samples, seed: seed)
        let configuration = try SamplerConfiguration(sampler)
        if state {
            var w = JSONWriter.object()
            w.add("model", object: explorer.modelView())
            w.add("density", object: try explorer.densityView(at: t ?? explorer.times[explorer.times.count * 3 / 10]))
            w.add("run", object: try explorer.runView(sampler: configuration, steps: steps))
            w.add("curve", object: try explorer.curveView(sampler: configuration))
            print(w.description)
            return
        }
        let assets = try ExploreAssets.locate()
        if let staticFolder {
            try ExploreStaticCopy.write(explorer, assets: assets, to: staticFolder)
            print("Wrote the explorer of \(m.name ?? model) to \(staticFolder)/index.html "
                  + "(\(explorer.times.count) times × \(Explorer.samplers.count) samplers × "
                  + "\(Explorer.stepLadder.count) step counts).")
            return
        }
        try ExploreServer(explorer: explorer, assets: assets).serve(host: host, port: port)
    }
}

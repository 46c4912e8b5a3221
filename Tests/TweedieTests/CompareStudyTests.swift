import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Tweedie

/// The pure logic behind `tweedie compare`: results.csv, the configuration, merging shards, the
/// order fit and the log-log chart.
@Suite struct CompareStudyTests {
    static func row(_ sampler: String, _ steps: Int, deterministic: Bool = true, calls: Double? = nil,
                    _ measurements: [(String, Double, Double?)]) -> StudyRow {
        StudyRow(sampler: sampler, steps: steps, isDeterministic: deterministic, modelCallsPerSample: calls ?? Double(steps),
                 wallTime: 0.25, measurements: measurements.map { Measurement(name: $0.0, label: $0.0, value: $0.1, noiseFloor: $0.2) })
    }

    static func configuration(seed: UInt64 = 3, shard: StudyShard? = nil) -> StudyConfiguration {
        StudyConfiguration(model: "ring8", dimension: 2, components: 8, schedule: "vp-linear", grid: "karras",
                           samplers: ["euler", "ddpm"], steps: [5, 10], count: 100, seed: seed, projections: 128,
                           referenceTolerance: 1e-8, shard: shard, batchSize: 256)
    }

    // MARK: results.csv

    /// Writing what was read gives the same text, with every digit, empty floors, NaN, rows
    /// lacking a measurement, and a quoted sampler name.
    @Test func csvRoundTrip() throws {
        let rows = [
            Self.row("euler", 5, [("sliced_w2", 0.1 + 0.2, 1.0 / 3), ("path_error", 1e-300, nil)]),
            Self.row("ddim:eta=1,x", 10, deterministic: false, calls: 9.5, [("sliced_w2", .nan, 0.3)]),
        ]
        let csv = StudyTable(rows: rows).csv()
        #expect(csv.hasPrefix("sampler,steps,deterministic,model_calls_per_sample,wall_time_s,"
                              + "sliced_w2,sliced_w2_floor,path_error,path_error_floor\n"))
        #expect(csv.contains("\"ddim:eta=1,x\",10,false,9.5,0.25,nan,0.3,,\n"))
        let read = try StudyTable(csv: csv)
        #expect(read.csv() == csv)
        #expect(read.rows[0].measurement("sliced_w2")?.value == 0.1 + 0.2)
        #expect(read.rows[0].measurement("path_error")?.noiseFloor == nil)
        #expect(read.rows[1].measurement("path_error") == nil)
        #expect(read.rows[1].modelCallsPerSample == 9.5)
    }

    @Test(arguments: [
        ("", "empty file"),
        ("sampler,steps\n", "header must begin"),
        ("sampler,steps,deterministic,model_calls_per_sample,wall_time_s,a,b\n", "should be 'a_floor'"),
        ("sampler,steps,deterministic,model_calls_per_sample,wall_time_s\neuler,5,true,5\n", "line 2: 4 fields"),
        ("sampler,steps,deterministic,model_calls_per_sample,wall_time_s\neuler,0,true,5,1\n", "line 2: steps"),
        ("sampler,steps,deterministic,model_calls_per_sample,wall_time_s,a,a_floor\neuler,5,true,5,1,x,\n", "line 2: a: 'x'"),
        ("sampler,steps,deterministic,model_calls_per_sample,wall_time_s\n\"euler,5\n", "not closed"),
    ])
    func csvErrorsNameTheLine(text: String, phrase: String) {
        #expect {
            try StudyTable(csv: text)
        } throws: { error in
            "\(error)".contains(phrase) && !"\(error)".contains("\n")
        }
    }

    // MARK: Configuration and merging

    @Test func shardsPartitionTheGrid() throws {
        let c = Self.configuration()
        #expect(c.entry(0) == ("euler", 5) && c.entry(3) == ("ddpm", 10))
        #expect(c.index(sampler: "ddpm", steps: 5) == 2)
        let parts = try (1...3).map { c.indices(in: try StudyShard(index: $0, count: 3)) }
        #expect(parts == [[0, 3], [1], [2]])
        #expect(try StudyShard("2/5").description == "2/5")
        for bad in ["3/2", "0/2", "1/0", "1", "a/b"] { #expect(throws: StudyError.self) { try StudyShard(bad) } }
    }

    @Test func configurationRoundTripsThroughJSON() throws {
        let c = Self.configuration(seed: .max, shard: try StudyShard("2/3"))
        let read = try StudyConfiguration(json: c.json())
        #expect(read == c)
        #expect(read.isSameStudy(as: Self.configuration(seed: .max)))
        #expect(Self.configuration(seed: 1).firstDifference(from: Self.configuration(seed: 2)) == "seed: 1 vs 2")
        #expect(throws: StudyError.self) { try StudyConfiguration(json: Data("{\"model\": 1}".utf8)) }
    }

    @Test func mergeRestoresGridOrderAndRefusesConflicts() throws {
        let c = Self.configuration()
        let first = StudyMerge.Part(name: "a", configuration: Self.configuration(shard: try StudyShard("1/2")),
                                    rows: [Self.row("euler", 5, []), Self.row("ddpm", 5, [])])
        let second = StudyMerge.Part(name: "b", configuration: Self.configuration(shard: try StudyShard("2/2")),
                                     rows: [Self.row("euler", 10, []), Self.row("ddpm", 10, [])])
        let merged = try StudyMerge.merge([second, first])
        #expect(merged.configuration == c)
        #expect(merged.rows.map { "\($0.sampler)/\($0.steps)" } == ["euler/5", "euler/10", "ddpm/5", "ddpm/10"])

        let other = StudyMerge.Part(name: "c", configuration: Self.configuration(seed: 4), rows: [])
        #expect { try StudyMerge.merge([first, other]) } throws: { "\($0)".contains("seed: 3 vs 4") }
        #expect { try StudyMerge.merge([first, first]) } throws: { "\($0)".contains("in both a and a") }
        let stray = StudyMerge.Part(name: "d", configuration: c, rows: [Self.row("heun", 5, [])])
        #expect { try StudyMerge.merge([stray]) } throws: { "\($0)".contains("not in the study's grid") }
    }

    // MARK: Order fit

    @Test func slopeIsExactOnAPowerLaw() throws {
        let x = [1.0, 2, 4, 8].map(log), y = [1.0, 2, 4, 8].map { log(3 * pow($0, -1.5)) }
        #expect(abs(try #require(StudyOrder.slope(x, y)) + 1.5) < 1e-12)
        #expect(StudyOrder.slope([1], [2]) == nil)
        #expect(StudyOrder.slope([1, 1], [2, 3]) == nil)
    }

    /// error = 0.7 (N − 1)^−2 gives order 2 exactly; a point below the resolution and the
    /// 1-step row are left out. A stochastic sampler is fitted on √(d² − f²), without the points
    /// at the floor.
    @Test func fitsUseTheRightErrorAndLeaveOutUnusablePoints() throws {
        var rows = [1, 5, 9, 17, 33].map { n in
            Self.row("heun", n, calls: Double(2 * n - 1),
                     [("sliced_w2", 1, 0.5), ("path_error", 99, nil), ("path_error_median", 0.7 * pow(Double(n - 1), -2), nil)])
        }
        rows.append(Self.row("heun", 1000, [("path_error_median", 1e-9, nil)]))
        let floor = 0.1
        for (n, e) in [(5, 0.4), (9, 0.2), (17, 0.1), (33, 0.05)] {
            // d = √(e² + f²), so the corrected error is e = 0.4, 0.2, then at the floor.
            let d = n >= 17 ? [0.1, 0.09][n == 17 ? 0 : 1] : (e * e + floor * floor).squareRoot()
            rows.append(Self.row("ddpm", n, deterministic: false, [("sliced_w2", d, floor)]))
        }
        let fits = StudyOrder.fits(rows, pathErrorResolution: 1e-6)
        #expect(fits.map(\.sampler) == ["heun", "ddpm"])
        let heun = fits[0], ddpm = fits[1]
        #expect(heun.metric == "path_error_median" && !heun.isFloorCorrected)
        #expect(heun.points.map(\.steps) == [5, 9, 17, 33])
        #expect(heun.excluded == 1 && heun.singleStepRows == 1)
        #expect(abs(try #require(heun.order) - 2) < 1e-9)
        #expect(try #require(heun.slopeVersusModelCalls) < -1.9)
        #expect(ddpm.metric == "sliced_w2" && ddpm.isFloorCorrected)
        #expect(ddpm.points.map(\.steps) == [5, 9] && ddpm.excluded == 2)
        #expect(abs(ddpm.points[0].error - 0.4) < 1e-12)
        #expect(abs(try #require(ddpm.order) - 1) < 1e-9)

        let report = StudyReport.markdown(Self.configuration(), rows: rows)
        #expect(report.contains("| heun | `path_error_median` | 4 | 2.00 |"), "\(report)")
        #expect(report.contains("1 at or below 1.000e-06; the 1-step row"))
        #expect(report.contains("| ddpm | `sliced_w2`, floor-corrected | 2 | 1.00 | −1.18 | 2 at or below the floor |"))
    }

    @Test func medianPathErrorIgnoresAFewOutliers() throws {
        let reference = Matrix(rows: 5, columns: 2)
        var samples = reference
        for r in 0..<5 { samples[r, 0] = r == 4 ? 100 : 0.1 * Double(r + 1) }
        let median = try PathError.median(samples: samples, reference: reference)
        #expect(median.name == "path_error_median" && median.noiseFloor == nil)
        #expect(abs(median.value - 0.3) < 1e-15)
    }

    // MARK: Chart

    @Test func logLogChartIsWellFormedSVG() throws {
        var chart = SVGLineChart(title: "a < b & c", xLabel: "NFE", yLabel: "error")
        chart.series = [.init(label: "euler", points: [SIMD2(5, 0.5), SIMD2(10, 0.25), SIMD2(20, 0), SIMD2(40, 0.06)]),
                        .init(label: "heun", points: [SIMD2(9, 0.1), SIMD2(19, 0.02)], isDashed: true)]
        chart.floor = 0.03...0.05
        chart.caption = ["a caption"]
        let svg = chart.render()
        let document = try XMLDocument(data: Data(svg.utf8))
        #expect(document.rootElement()?.name == "svg")
        #expect(svg.contains("a &lt; b &amp; c"))
        // The zero breaks the euler line into two pieces: two moves in its path.
        let euler = try #require(svg.split(separator: "\n").first { $0.hasPrefix("<path") })
        #expect(euler.filter { $0 == "M" }.count == 2)
        #expect(svg.contains("stroke-dasharray"))
        #expect(SVGLineChart.logTicks(log10(0.004)...log10(300)) == [0.01, 0.1, 1, 10, 100])
        #expect(SVGLineChart.logTicks(log10(3)...log10(60)) == [5, 10, 20, 50])
        #expect(SVGLineChart.tickLabel(1e-6) == "1e-6" && SVGLineChart.tickLabel(0.05) == "0.05")
    }
}

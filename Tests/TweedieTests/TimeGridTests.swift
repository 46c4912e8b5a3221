import Foundation
import Testing
import TweedieDiffusion

@Suite struct TimeGridTests {
    // Expected timesteps below were printed by numpy 2.4 running the definitions of diffusers'
    // DDPMScheduler.set_timesteps:
    //   linspace: np.linspace(0, T-1, N).round()[::-1].astype(np.int64)
    //   leading:  (np.arange(0, N) * (T // N)).round()[::-1].astype(np.int64) + steps_offset
    //   trailing: np.round(np.arange(T, 0, -T / N)).astype(np.int64) - 1

    @Test func ddpmSpacingsMatchDiffusers() throws {
        func grid(_ n: Int, _ spacing: TimestepSpacing, offset: Int = 0, t: Int = 1000) throws -> [Int] {
            try TimeGrid.ddpmTimesteps(trainingSteps: t, count: n, spacing: spacing, stepsOffset: offset)
        }
        #expect(try grid(10, .linspace) == [999, 888, 777, 666, 555, 444, 333, 222, 111, 0])
        #expect(try grid(10, .leading) == [900, 800, 700, 600, 500, 400, 300, 200, 100, 0])
        #expect(try grid(10, .leading, offset: 1) == [901, 801, 701, 601, 501, 401, 301, 201, 101, 1])
        #expect(try grid(10, .trailing) == [999, 899, 799, 699, 599, 499, 399, 299, 199, 99])
        // Round half to even: 499.5 → 500, 937.5 → 938, 812.5 → 812.
        #expect(try grid(3, .linspace) == [999, 500, 0])
        #expect(try grid(3, .trailing) == [999, 666, 332])
        #expect(try grid(16, .trailing)
                == [999, 937, 874, 811, 749, 687, 624, 561, 499, 437, 374, 311, 249, 187, 124, 61])
        #expect(try grid(16, .linspace)
                == [999, 932, 866, 799, 733, 666, 599, 533, 466, 400, 333, 266, 200, 133, 67, 0])
        #expect(try grid(7, .leading) == [852, 710, 568, 426, 284, 142, 0])
        #expect(try grid(7, .trailing) == [999, 856, 713, 570, 428, 285, 142])
        #expect(try grid(7, .linspace) == [999, 832, 666, 500, 333, 166, 0])
        #expect(try grid(8, .trailing, t: 50) == [49, 43, 37, 30, 24, 18, 11, 5])
        #expect(try grid(8, .linspace, t: 50) == [49, 42, 35, 28, 21, 14, 7, 0])
        for spacing in TimestepSpacing.allCases {
            #expect(try grid(1, spacing) == [spacing == .trailing ? 999 : 0])
        }
    }

    @Test func ddpmSpacingsMatchDiffusersForEveryCount() throws {
        // Σ over N = 1 … 1000 and j of (j + 1)(k_j + 1), k the numpy timesteps for T = 1000 (for
        // trailing, its first N entries: for 62 values of N numpy's arange appends a spurious −1).
        let fingerprints: [TimestepSpacing: Int] = [
            .linspace: 55_833_566_370, .leading: 45_360_602_419, .trailing: 55_889_267_764,
        ]
        for (spacing, expected) in fingerprints {
            var sum = 0
            for n in 1...1000 {
                let k = try TimeGrid.ddpmTimesteps(trainingSteps: 1000, count: n, spacing: spacing)
                #expect(k.count == n)
                for (j, v) in k.enumerated() { sum += (j + 1) * (v + 1) }
            }
            #expect(sum == expected, "\(spacing)")
        }
        // N = 61: numpy's arange yields 62 values ending in −1; the intended 61 end at 15.
        let k = try TimeGrid.ddpmTimesteps(trainingSteps: 1000, count: 61, spacing: .trailing)
        #expect(k.count == 61 && k.first == 999 && k.last == 15)
    }

    @Test func ddpmGridErrors() {
        #expect(throws: ScheduleError.self) { try TimeGrid.ddpmTimesteps(trainingSteps: 1000, count: 0, spacing: .linspace) }
        #expect(throws: ScheduleError.self) { try TimeGrid.ddpmTimesteps(trainingSteps: 1000, count: 1001, spacing: .leading) }
        // leading with offset 1 and N = T reaches timestep 1000.
        #expect(throws: ScheduleError.self) {
            try TimeGrid.ddpmTimesteps(trainingSteps: 1000, count: 1000, spacing: .leading, stepsOffset: 1)
        }
        #expect(throws: ScheduleError.self) { try TimeGrid.times(.ddpm(.trailing), for: .vpLinear(), count: 10) }
        #expect(throws: ScheduleError.self) { try TimeGrid.times(.ddpm(.trailing), for: .ddpm(), count: 10, to: 0.1) }
    }

    @Test func ddpmTimesMapTimestepsToContinuousTime() throws {
        let times = try TimeGrid.times(.ddpm(.linspace), for: .ddpm(), count: 10)
        #expect(times.first == 1 && times.last == 0.001 && times.count == 10)
        let leading = try TimeGrid.ddpm(.linear(), count: 10, spacing: .leading, stepsOffset: 1)
        #expect(leading.first == 0.902 && leading.last == 0.002)
    }

    @Test func uniformGrid() throws {
        #expect(try TimeGrid.uniform(.vpLinear(), count: 5) == [1, 0.75, 0.5, 0.25, 0])
        let edm = try TimeGrid.times(.uniform, for: .edm(), count: 3)
        #expect(edm == [80, 40.001, 0.002])
        let partial = try TimeGrid.uniform(.flow, count: 3, from: 0.9, to: 0.1)
        #expect(partial[0] == 0.9 && abs(partial[1] - 0.5) < 1e-15 && partial[2] == 0.1)
    }

    @Test func logSNRGridIsEvenlySpacedInLambda() throws {
        for (s, start, end) in [(Schedule.vpLinear(), 1.0, 1e-3), (.vpCosine(), 0.995, 1e-3), (.ve(), 1, 0),
                                (.edm(), 80, 0.002), (.flow, 0.99, 0.01), (.ddpm(), 1, 0.001)] {
            let times = try TimeGrid.uniformLogSNR(s, count: 12, from: start, to: end)
            #expect(times.first == start && times.last == end, "\(s)")
            let lambdas = times.map(s.logSNR)
            let step = (lambdas[11] - lambdas[0]) / 11
            for j in 1..<12 {
                #expect(times[j] < times[j - 1])
                #expect(abs(lambdas[j] - lambdas[j - 1] - step) < 1e-10 * abs(step), "\(s) step \(j)")
            }
        }
        // λ is infinite at t = 0 for VP and flow schedules and at t = 1 for flow and vp-cosine.
        #expect(throws: ScheduleError.self) { try TimeGrid.uniformLogSNR(.vpLinear(), count: 10) }
        #expect(throws: ScheduleError.self) { try TimeGrid.uniformLogSNR(.flow, count: 10, to: 0.01) }
        #expect(throws: ScheduleError.self) { try TimeGrid.uniformLogSNR(.vpCosine(), count: 10, to: 0.01) }
    }

    @Test func karrasGridForEDMIsKarrasFormula() throws {
        let n = 18
        let times = try TimeGrid.karras(.edm(), count: n)
        #expect(times.first == 80 && times.last == 0.002 && times.count == n)
        for (i, t) in times.enumerated() {
            let root = pow(80, 1.0 / 7) + Double(i) / Double(n - 1) * (pow(0.002, 1.0 / 7) - pow(80, 1.0 / 7))
            #expect(abs(t - pow(root, 7)) <= 1e-13 * t, "i = \(i)")
        }
        // ρ from the schedule, overridable.
        let rho3 = try TimeGrid.times(.karras(rho: 3), for: .edm(rho: 9), count: 5)
        let rho9 = try TimeGrid.times(.karras(), for: .edm(rho: 9), count: 5)
        let mid3 = pow((pow(80, 1.0 / 3) + pow(0.002, 1.0 / 3)) / 2, 3)
        let mid9 = pow((pow(80, 1.0 / 9) + pow(0.002, 1.0 / 9)) / 2, 9)
        #expect(abs(rho3[2] - mid3) < 1e-13 * mid3 && abs(rho9[2] - mid9) < 1e-13 * mid9)
    }

    @Test func karrasGridSpacesSigmaOverAlphaForOtherSchedules() throws {
        for (s, start, end) in [(Schedule.vpLinear(), 1.0, 0.0), (.ve(), 1, 0), (.flow, 0.99, 0),
                                (.vpCosine(), 0.99, 0.001), (.ddpm(), 1, 0)] {
            let times = try TimeGrid.karras(s, count: 10, from: start, to: end)
            #expect(times.first == start && times.last == end)
            let ratio = { (t: Double) in s.sigma(t) / s.alpha(t) }
            let hi = pow(ratio(start), 1.0 / 7), lo = pow(ratio(end), 1.0 / 7)
            for (i, t) in times.enumerated().dropFirst().dropLast() {
                let expected = pow(hi + Double(i) / 9 * (lo - hi), 7)
                #expect(abs(ratio(t) - expected) <= 1e-11 * expected, "\(s) i = \(i)")
                #expect(t < times[i - 1])
            }
        }
        // σ/α is infinite where α = 0.
        #expect(throws: ScheduleError.self) { try TimeGrid.karras(.flow, count: 10) }
    }

    @Test func continuousGridErrors() {
        #expect(throws: ScheduleError.self) { try TimeGrid.uniform(.vpLinear(), count: 1) }
        #expect(throws: ScheduleError.self) { try TimeGrid.uniform(.vpLinear(), count: 10, from: 0.2, to: 0.5) }
        #expect(throws: ScheduleError.timeOutOfRange(schedule: "edm", time: 100, range: 0.002...80)) {
            try TimeGrid.karras(.edm(), count: 10, from: 100)
        }
        #expect(throws: ScheduleError.self) { try TimeGrid.karras(.edm(), count: 10, rho: -1) }
    }
}

import Foundation
import Tweedie

/// `tweedie compare … --slurm N`: the study as one Slurm job array of N tasks, each this same
/// executable running `--shard i/N` into DIR/shards/i, and one merge job that runs only if every
/// task succeeded (`--dependency=afterok`, `--kill-on-invalid-dep=yes`) and writes DIR.
///
/// Shards already finished in DIR/shards (their config.json is the study's, shard i/N) are not
/// submitted again, so re-running the same command resumes a study. Logs go to DIR/logs.
struct SlurmStudySubmission {
    let directory: URL
    /// DIR as the user wrote it, for messages.
    let displayDirectory: String
    let shardCount: Int
    /// The study's options, as the tasks receive them (paths made absolute).
    let studyArguments: [String]
    /// The study each shard must hold.
    let configuration: StudyConfiguration
    /// Extra `sbatch` arguments, split on spaces.
    let extraArguments: [String]

    var shardsDirectory: URL { directory.appendingPathComponent("shards") }
    var logsDirectory: URL { directory.appendingPathComponent("logs") }

    func shardDirectory(_ i: Int) -> URL { shardsDirectory.appendingPathComponent("\(i)") }
    var mergeLog: URL { logsDirectory.appendingPathComponent("merge.out") }

    /// The shards (1-based) whose directory does not hold this study's finished shard.
    func missingShards() -> [Int] {
        (1...shardCount).filter { i in
            let url = shardDirectory(i).appendingPathComponent(StudyFiles.configuration)
            guard let data = FileManager.default.contents(atPath: url.path),
                  let found = try? StudyConfiguration(json: data) else { return true }
            return !(found.isSameStudy(as: configuration) && found.shard?.description == "\(i)/\(shardCount)")
        }
    }

    /// Submits the array (the missing shards only) and the merge job; with `wait`, blocks until
    /// the merge job ends. Returns the lines to print.
    func submit(wait: Bool) throws -> [String] {
        let sbatch = try Self.executable("sbatch")
        let manager = FileManager.default
        for folder in [directory, shardsDirectory, logsDirectory] {
            do { try manager.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                throw CommandFailure("--out: cannot create \(folder.path) (\((error as NSError).localizedDescription))")
            }
        }
        let tweedie = try Self.currentExecutable()
        let missing = missingShards()
        var lines: [String] = []
        var arrayJob: String?
        if !missing.isEmpty {
            let task = [tweedie, "compare"] + studyArguments
                + ["--shard", "${SLURM_ARRAY_TASK_ID}/\(shardCount)",
                   "--out", shardsDirectory.path + "/${SLURM_ARRAY_TASK_ID}", "--quiet"]
            let job = try Self.run(sbatch, ["--parsable", "--job-name=tweedie-compare",
                                            "--array=" + Self.ranges(missing),
                                            "--output=" + logsDirectory.path + "/shard-%a.out"] + extraArguments
                                   + ["--wrap", Self.shellCommand(task)])
            arrayJob = job
            lines.append("submitted job array \(job): shard\(missing.count == 1 ? "" : "s") \(Self.ranges(missing)) "
                         + "of \(shardCount) into \(displayDirectory)/shards/<i> "
                         + "(logs \(displayDirectory)/logs/shard-<i>.out)")
            let done = shardCount - missing.count
            if done > 0 {
                lines.append("\(done) shard\(done == 1 ? "" : "s") already finished in \(displayDirectory)/shards, "
                             + "not resubmitted")
            }
        } else {
            lines.append("all \(shardCount) shards already finished in \(displayDirectory)/shards")
        }
        let merge = [tweedie, "compare", "--merge"] + (1...shardCount).map { shardDirectory($0).path }
            + ["--out", directory.path, "--quiet"]
        var mergeArguments = ["--parsable", "--job-name=tweedie-merge", "--output=" + mergeLog.path]
        if let arrayJob { mergeArguments += ["--dependency=afterok:" + arrayJob, "--kill-on-invalid-dep=yes"] }
        if wait { mergeArguments.append("--wait") }
        let mergeResult = try Self.launch(sbatch,
                                          mergeArguments + extraArguments + ["--wrap", Self.shellCommand(merge)])
        let mergeJob = mergeResult.output.split(separator: "\n").first.map(String.init) ?? "?"
        lines.append("submitted merge job \(mergeJob)"
                     + "\(arrayJob.map { " (after every task of \($0) succeeds)" } ?? ""): "
                     + "writes \(displayDirectory) (log \(displayDirectory)/logs/merge.out)")
        guard wait else { return lines }
        if mergeResult.status != 0
            || !manager.fileExists(atPath: directory.appendingPathComponent(StudyFiles.configuration).path) {
            let failed = missingShards()
            if let first = failed.first {
                throw CommandFailure("--slurm: shard \(first) of \(shardCount) "
                                     + "failed\(failed.count > 1 ? " (and \(failed.count - 1) more)" : ""); "
                                     + "see \(displayDirectory)/logs/shard-\(first).out; "
                                     + "the merge job \(mergeJob) was not run")
            }
            throw CommandFailure("--slurm: the merge job \(mergeJob) failed; see \(displayDirectory)/logs/merge.out")
        }
        lines.append("study finished: \(displayDirectory) (results.csv, report.md, error_vs_nfe.svg, config.json)")
        return lines
    }

    // MARK: Processes

    /// The absolute path of `name` on the PATH, or one clear error.
    static func executable(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for folder in path.split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw CommandFailure("--slurm: \(name) is not on the PATH (is Slurm installed here?)")
    }

    /// This executable's absolute path, so that every task runs the same build.
    static func currentExecutable() throws -> String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return resolved
        }
        guard let path = Bundle.main.executablePath else {
            throw CommandFailure("--slurm: cannot find this executable's path")
        }
        return URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// Runs a command and returns its standard output, trimmed; a failure is one line naming it.
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let result = try launch(executable, arguments)
        guard result.status == 0 else {
            let detail = result.error.split(separator: "\n").first.map(String.init) ?? "exit status \(result.status)"
            throw CommandFailure("--slurm: \(URL(fileURLWithPath: executable).lastPathComponent) failed: \(detail)")
        }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func launch(_ executable: String,
                       _ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch {
            throw CommandFailure("--slurm: cannot run \(executable) (\((error as NSError).localizedDescription))")
        }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self),
                String(decoding: errors, as: UTF8.self))
    }

    /// `1-3,5` for [1, 2, 3, 5]: Slurm's array syntax.
    static func ranges(_ values: [Int]) -> String {
        var parts: [String] = []
        var start = values[0], end = values[0]
        for v in values.dropFirst() {
            if v == end + 1 { end = v; continue }
            parts.append(start == end ? "\(start)" : "\(start)-\(end)")
            (start, end) = (v, v)
        }
        parts.append(start == end ? "\(start)" : "\(start)-\(end)")
        return parts.joined(separator: ",")
    }

    /// A shell command line: each argument single-quoted, except that `${SLURM_ARRAY_TASK_ID}`
    /// is left for the shell to expand.
    static func shellCommand(_ arguments: [String]) -> String {
        arguments.map { argument in
            let quoted = "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
            return quoted.replacingOccurrences(of: "${SLURM_ARRAY_TASK_ID}", with: "'\"${SLURM_ARRAY_TASK_ID}\"'")
        }.joined(separator: " ")
    }
}

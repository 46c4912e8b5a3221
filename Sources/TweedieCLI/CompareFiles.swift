import Foundation
import Tweedie

/// The files of a study directory: results.csv, report.md, error_vs_nfe.svg, kl_vs_nfe.svg (when
/// a row has a KL) and config.json.
enum StudyFiles {
    static let results = "results.csv", report = "report.md", chart = "error_vs_nfe.svg", klChartName = "kl_vs_nfe.svg"
    static let configuration = "config.json"

    /// Writes all four files into `directory` (created if missing), each atomically; on any
    /// failure none is left behind (nor the directory, if this created it). config.json is the
    /// completion marker: an old one is removed first and the new one is renamed into place
    /// last, so a directory with a config.json holds a finished result.
    static func write(_ configuration: StudyConfiguration, rows: [StudyRow], to directory: URL) throws -> [URL] {
        // Everything is rendered before anything touches the disk.
        var contents: [(String, Data)] = [
            (results, Data(StudyTable(rows: rows).csv().utf8)),
            (report, Data(StudyReport.markdown(configuration, rows: rows).utf8)),
            (chart, Data(studyChart(configuration, rows: rows).render().utf8)),
        ]
        if let kl = klChart(configuration, rows: rows) { contents.append((klChartName, Data(kl.render().utf8))) }
        contents.append((Self.configuration, configuration.json()))
        let manager = FileManager.default
        var created = false
        if !manager.fileExists(atPath: directory.path) {
            do {
                try manager.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw CommandFailure("--out: cannot create directory \(directory.path) "
                                     + "(\((error as NSError).localizedDescription))")
            }
            created = true
        }
        let urls = contents.map { directory.appendingPathComponent($0.0) }
        do {
            try AtomicFile.writingTogether {
                for (url, (_, data)) in zip(urls, contents) { try AtomicFile.write(data, to: url) }
                try? manager.removeItem(at: directory.appendingPathComponent(Self.configuration))
            }
        } catch {
            if created { try? manager.removeItem(at: directory) }
            throw error
        }
        return urls
    }

    /// The configuration and rows of a study directory.
    static func read(_ directory: URL) throws -> StudyMerge.Part {
        func contents(_ name: String) throws -> Data {
            let url = directory.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw CommandFailure("--merge: \(url.path): no such file (not a compare output directory?)")
            }
            return data
        }
        let configurationURL = directory.appendingPathComponent(configuration)
        let parsed: StudyConfiguration
        do { parsed = try StudyConfiguration(json: try contents(configuration)) } catch let error as StudyError {
            throw CommandFailure("--merge: \(configurationURL.path): \(error)")
        }
        let resultsURL = directory.appendingPathComponent(results)
        let table: StudyTable
        do {
            table = try StudyTable(csv: String(decoding: try contents(results), as: UTF8.self))
        } catch let error as StudyError {
            throw CommandFailure("--merge: \(resultsURL.path): \(error)")
        }
        return StudyMerge.Part(name: directory.path, configuration: parsed, rows: table.rows)
    }
}

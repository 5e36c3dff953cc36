import Foundation

/// Paths inside the repository, found from this source file, for tests that read shipped data.
public enum RepositoryPaths {
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }   // Tests/TestSupport/Fixtures.swift → repo
        return url.path
    }()

    public static func path(_ relative: String) -> String { "\(root)/\(relative)" }

    /// A fresh empty directory under the system temporary directory.
    public static func temporaryDirectory(_ label: String) -> String {
        let path = NSTemporaryDirectory() + "swift-elmo-\(label)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// What a child process left behind: its exit status and both streams.
public struct ProcessOutcome: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a program to its end from the repository root, collecting what it printed (stdout read on another thread,
/// so a child that fills one pipe while the other is read cannot stall).
public func runToEnd(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ProcessOutcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: RepositoryPaths.root)
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    nonisolated(unsafe) var stdout = Data()
    let reader = DispatchGroup()
    DispatchQueue.global().async(group: reader) { stdout = out.fileHandleForReading.readDataToEndOfFile() }
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    reader.wait()
    process.waitUntilExit()
    return ProcessOutcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                          stderr: String(decoding: stderr, as: UTF8.self))
}

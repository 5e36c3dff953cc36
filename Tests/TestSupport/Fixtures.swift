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

import ArgumentParser
import CLISupport
import Foundation
import Framework
#if canImport(Glibc)
import Glibc
#endif

/// `elmo serve …` runs the `elmo-serve` program built beside `elmo` with the same arguments: the HTTP stack
/// (Hummingbird, SwiftNIO) stays out of the rest of the command line's build.
struct ServeForwarder: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve ELMo vectors over HTTP (POST /v1/embed, /healthz, /metrics): runs elmo-serve; `elmo serve --help` for its flags.")

    @Argument(parsing: .captureForPassthrough, help: "Arguments of elmo-serve.") var arguments: [String] = []

    func run() throws {
        let directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let program = directory.appendingPathComponent("elmo-serve").path
        guard FileManager.default.isExecutableFile(atPath: program) else {
            throw InputError("serve: \(program) is missing; build it: swift build -c release --product elmo-serve")
        }
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        execv(program, argv)
        throw RuntimeFailure("serve: cannot run \(program): \(String(cString: strerror(errno)))")
    }
}

import ArgumentParser
import Framework
import Foundation

/// Runs a command tree with the project's exit-code contract: 0 success,
/// 1 runtime failure, 2 bad usage or bad input, always with one line on stderr.
public enum ExitCodes {
    public static func run<Command: ParsableCommand>(_ root: Command.Type, programName: String) -> Never {
        do {
            var command = try root.parseAsRoot()
            try command.run()
            exit(0)
        } catch let error as InputError {
            fail(programName, error.message, code: 2)
        } catch let error as RuntimeFailure {
            fail(programName, error.message, code: 1)
        } catch let error as ExitCode {
            exit(error.rawValue)
        } catch {
            let code = root.exitCode(for: error)
            if code == .success {
                print(root.fullMessage(for: error))   // --help, --version
                exit(0)
            }
            if error is ValidationError || code == .validationFailure {
                let message = root.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
                fail(programName, message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message, code: 2)
            }
            fail(programName, "\(error)", code: 1)
        }
    }

    public static func fail(_ programName: String, _ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("\(programName): error: \(message)\n".utf8))
        exit(code)
    }
}

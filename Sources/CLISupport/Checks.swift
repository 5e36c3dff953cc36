import Foundation
import Framework

/// Flag checks that fail with one line naming the flag.
public enum Check {
    public static func positive(_ value: Int, _ flag: String) throws {
        guard value > 0 else { throw InputError("\(flag) \(value): must be a positive integer") }
    }
    public static func positive(_ value: Double, _ flag: String) throws {
        guard value > 0, value.isFinite else { throw InputError("\(flag) \(value): must be a positive number") }
    }
    /// Runs `body`; a library ``ParameterError`` becomes an input error naming the flag that sets the parameter.
    public static func flags<R>(_ flags: [String: String], _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as ParameterError {
            throw InputError("\(flags[error.parameter] ?? error.parameter) \(error.value): \(error.problem)")
        }
    }
}

public func printError(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

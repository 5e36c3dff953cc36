/// Bad input from the user: a file, a flag or a value that cannot be used. The command line
/// prints ``message`` as one line and exits with status 2.
public struct InputError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A failure while running on valid input (I/O error mid-run, numerical blow-up). The command
/// line prints ``message`` as one line and exits with status 1.
public struct RuntimeFailure: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A library configuration value that is out of range, named by its parameter (`epochs`), not by a
/// command-line flag; a program maps it to its own flag (`--epochs`). Counts as bad input (exit 2).
public struct ParameterError: Error, CustomStringConvertible, Equatable {
    public let parameter: String
    public let value: String
    public let problem: String
    public init(_ parameter: String, _ value: some CustomStringConvertible, _ problem: String) {
        self.parameter = parameter
        self.value = value.description
        self.problem = problem
    }
    public var description: String { "\(parameter) \(value): \(problem)" }
}

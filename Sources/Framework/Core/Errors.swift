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

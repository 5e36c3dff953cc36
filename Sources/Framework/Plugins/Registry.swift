/// What a registry knows about a plugin besides its factory.
public struct ComponentInfo: Sendable, Equatable {
    public let name: String
    public let summary: String
    public let options: [OptionInfo]

    public init(name: String, summary: String, options: [OptionInfo] = []) {
        self.name = name
        self.summary = summary
        self.options = options
    }
}

/// String-valued options handed to a plugin's factory (from flags or a config file).
///
/// Typed getters parse and validate; every key read is remembered so that, after the factory
/// returns, keys nobody read are rejected (a misspelt option never silently falls back to its
/// default — AllenNLP's `assert_empty`).
public struct ComponentOptions: Sendable {
    public let values: [String: String]
    /// Who the options are for, for messages: "optimizer adam".
    public let context: String
    /// The name the plugin was asked for by (a plugin registered under two names knows which).
    public let name: String
    private(set) var readKeys: Set<String> = []

    public init(_ values: [String: String] = [:], context: String, name: String = "") {
        self.values = values
        self.context = context
        self.name = name
    }

    /// The value of `option`: its text parsed and checked, or its default; a required option that is
    /// missing, or a value that does not parse or is out of range, is an input error naming the key.
    public mutating func value<Value>(of option: PluginOption<Value>) throws -> Value {
        guard let value = try optionalValue(of: option) else {
            throw InputError("\(context): option \(option.key) is required (\(option.help))")
        }
        return value
    }

    /// The same, nil when the option is absent and has no default.
    public mutating func optionalValue<Value>(of option: PluginOption<Value>) throws -> Value? {
        readKeys.insert(option.key)
        guard let text = values[option.key] else { return option.defaultValue }
        guard let value = Value(optionText: text), option.isValid(value) else {
            throw InputError("\(context): option \(option.key)=\(text) is invalid, expected \(option.expected)")
        }
        return value
    }

    /// A key's raw text, for options read by hand (a composite's `PART.KEY`).
    public mutating func text(_ key: String) -> String? {
        readKeys.insert(key)
        return values[key]
    }

    /// Keys given but never read by the factory.
    public var unreadKeys: [String] { values.keys.filter { !readKeys.contains($0) }.sorted() }
}

/// Name → factory for one kind of plugin (encoders, heads or optimizers).
///
/// Swift runs no code when a module loads, so registration is explicit: each module exposes
/// `register(into:)` and the executables call them once at start. Duplicate names are refused;
/// an unknown name is answered with the list of known ones.
///
/// A factory has two steps: it reads and checks its options (``configure(_:options:)``), and the
/// builder it returns makes the plugin from a context. So options are validated once, before any
/// work, and a head can be built per fold from one configuration.
public struct Registry<Context, Product>: Sendable {
    public typealias Builder = (Context) throws -> Product
    public typealias Factory = @Sendable (inout ComponentOptions) throws -> Builder

    /// "encoder", "head", "optimizer".
    public let kind: String
    private var entries: [String: (info: ComponentInfo, factory: Factory)] = [:]
    private var order: [String] = []

    public init(kind: String) { self.kind = kind }

    public mutating func register(_ info: ComponentInfo, factory: @escaping Factory) throws {
        guard entries[info.name] == nil else {
            throw RuntimeFailure("\(kind) \(info.name) is registered twice")
        }
        entries[info.name] = (info, factory)
        order.append(info.name)
    }

    /// Registered plugins in registration order.
    public var components: [ComponentInfo] { order.map { entries[$0]!.info } }
    public var names: [String] { order }

    public func info(_ name: String) throws -> ComponentInfo {
        guard let entry = entries[name] else { throw unknown(name) }
        return entry.info
    }

    /// Reads and checks `options` for the plugin `name` and returns its builder; nothing is built yet.
    /// Options the plugin does not know are an input error.
    public func configure(_ name: String, options: [String: String] = [:]) throws -> Builder {
        guard let entry = entries[name] else { throw unknown(name) }
        var componentOptions = ComponentOptions(options, context: "\(kind) \(name)", name: name)
        let builder = try entry.factory(&componentOptions)
        let unread = componentOptions.unreadKeys
        if !unread.isEmpty {
            let known = entry.info.options.map(\.key)
            throw InputError("\(kind) \(name) has no option \(unread.joined(separator: ", ")) (its options: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
        }
        return builder
    }

    /// Configures and builds the plugin `name` in one go.
    public func make(_ name: String, options: [String: String] = [:], context: Context) throws -> Product {
        try configure(name, options: options)(context)
    }

    private func unknown(_ name: String) -> InputError {
        InputError("unknown \(kind) '\(name)' (known: \(order.joined(separator: ", ")))")
    }
}

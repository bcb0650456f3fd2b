internal import CSQLite

/// A prepared statement; finalized in deinit, on every path.
package final class Statement {
    private let pointer: OpaquePointer
    private unowned let database: Database
    /// The SQL text, for errors.
    public let sql: String

    init(database: Database, sql: String) throws {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else { throw database.error(code, sql: sql) }
        pointer = statement
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(pointer) }

    /// Column positions by name, read once from the prepared statement.
    lazy var columns: [String: Int32] = {
        var columns: [String: Int32] = [:]
        for index in 0..<sqlite3_column_count(pointer) {
            if let name = sqlite3_column_name(pointer, index) { columns[String(cString: name)] = index }
        }
        return columns
    }()

    /// Resets for another run and clears bindings.
    public func reset() {
        sqlite3_reset(pointer)
        sqlite3_clear_bindings(pointer)
    }

    /// Binds `values` to parameters 1...n.
    public func bind(_ values: [SQLValue]) throws {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .integer(let v): code = sqlite3_bind_int64(pointer, index, v)
            case .real(let v): code = sqlite3_bind_double(pointer, index, v)
            case .text(let v): code = sqlite3_bind_text(pointer, index, v, -1, netstatd_sqlite_transient())
            case .blob(let v):
                code = v.withUnsafeBytes { sqlite3_bind_blob(pointer, index, $0.baseAddress, Int32($0.count), netstatd_sqlite_transient()) }
            case .null: code = sqlite3_bind_null(pointer, index)
            }
            if code != SQLITE_OK { throw database.error(code, sql: sql) }
        }
    }

    /// Steps once: true when a row is available, false when done.
    @discardableResult
    public func step() throws -> Bool {
        let code = sqlite3_step(pointer)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.error(code, sql: sql)
        }
    }

    /// Binds, runs to completion, and resets.
    public func run(_ values: [SQLValue] = []) throws {
        reset()
        try bind(values)
        while try step() {}
        sqlite3_reset(pointer)
    }

    /// Column readers for the current row.
    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(pointer, column) }
    public func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(pointer, column)) }
    public func double(_ column: Int32) -> Double { sqlite3_column_double(pointer, column) }
    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(pointer, column) == SQLITE_NULL }
    public func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(pointer, column) else { return "" }
        return String(cString: bytes)
    }
    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(pointer, column))
        guard count > 0, let bytes = sqlite3_column_blob(pointer, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }
}

/// The current row of a statement, read by column name: a query whose columns move
/// cannot silently read the wrong one, and a missing column is an error naming it.
struct RowReader {
    private let statement: Statement

    init(_ statement: Statement) throws {
        self.statement = statement
    }

    private func index(_ name: String) throws -> Int32 {
        guard let index = statement.columns[name] else {
            throw StoreError.inconsistent("column \(name) is not in the result of \(statement.sql.prefix(80))")
        }
        return index
    }

    func int64(_ name: String) throws -> Int64 { statement.int64(try index(name)) }
    func optionalInt64(_ name: String) throws -> Int64? {
        let column = try index(name)
        return statement.isNull(column) ? nil : statement.int64(column)
    }
    func double(_ name: String) throws -> Double { statement.double(try index(name)) }
    func text(_ name: String) throws -> String { statement.text(try index(name)) }
    func optionalText(_ name: String) throws -> String? {
        let column = try index(name)
        return statement.isNull(column) ? nil : statement.text(column)
    }
    func blob(_ name: String) throws -> [UInt8] {
        let column = try index(name)
        return statement.isNull(column) ? [] : statement.blob(column)
    }
}

using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace SharpSeek.Server.Accounts;

/// <summary>An account an API key belongs to, with its balances in nano-yuan (1e-9 CNY).</summary>
public sealed record Account(long Id, string Name, long GrantedNano, long ToppedUpNano)
{
    public long TotalNano => GrantedNano + ToppedUpNano;
}

/// <summary>One finished admitted request as the ledger records it.</summary>
public sealed record UsageRecord
{
    public required string RequestId { get; init; }
    public required long AccountId { get; init; }
    public required string Model { get; init; }
    public required string Endpoint { get; init; }
    /// <summary>finish reason (stop, length), or cancelled / expired / error.</summary>
    public required string Outcome { get; init; }
    public int PromptTokens { get; init; }
    public int CacheHitTokens { get; init; }
    public int CacheMissTokens { get; init; }
    public int CompletionTokens { get; init; }
    public int ReasoningTokens { get; init; }
    public long CostNano { get; init; }
}

/// <summary>
/// API keys (stored as SHA-256 hashes), balances and the per-request usage ledger, in SQLite (a file) or PostgreSQL
/// (a connection string). Billing (AccountStore.Billing.cs) reserves a request's worst-case cost at admission and
/// settles it to the ledger row's cost at the end (granted balance first, then topped-up), each in one transaction.
/// </summary>
public sealed partial class AccountStore : IDisposable
{
    private readonly string _connectionString;
    private readonly bool _postgres;
    private readonly SemaphoreSlim _sqliteWrites = new(1, 1);
    private readonly NpgsqlDataSource? _dataSource;

    private AccountStore(string connectionString, bool postgres)
    {
        _connectionString = connectionString;
        _postgres = postgres;
        if (postgres) _dataSource = NpgsqlDataSource.Create(connectionString);
    }

    /// <summary>A store in the SQLite file at <paramref name="path"/> (created when missing).</summary>
    public static AccountStore OpenSqlite(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var cs = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true, DefaultTimeout = 30 }.ToString();
        var store = new AccountStore(cs, postgres: false);
        store.CreateSchema();
        return store;
    }

    /// <summary>A store in the PostgreSQL database named by <paramref name="connectionString"/>.</summary>
    public static AccountStore OpenPostgres(string connectionString)
    {
        var store = new AccountStore(connectionString, postgres: true);
        store.CreateSchema();
        return store;
    }

    public string Backend => _postgres ? "postgresql" : "sqlite";

    private DbConnection Open()
    {
        if (_dataSource is not null) return _dataSource.OpenConnection();
        var c = new SqliteConnection(_connectionString);
        c.Open();
        using var pragma = Command(c, null, "PRAGMA busy_timeout = 30000;");
        pragma.ExecuteNonQuery();
        return c;
    }

    private async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        if (_dataSource is not null) return await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        var c = new SqliteConnection(_connectionString);
        await c.OpenAsync(ct).ConfigureAwait(false);
        await using var pragma = Command(c, null, "PRAGMA busy_timeout = 30000;");
        await pragma.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        return c;
    }

    private void CreateSchema()
    {
        string id = _postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
        using var c = Open();
        if (!_postgres) Execute(c, "PRAGMA journal_mode = WAL;");
        Execute(c, $"""
            CREATE TABLE IF NOT EXISTS accounts (
                id {id},
                name TEXT NOT NULL,
                granted_nano BIGINT NOT NULL,
                topped_up_nano BIGINT NOT NULL,
                created_unix BIGINT NOT NULL
            );
            """);
        Execute(c, """
            CREATE TABLE IF NOT EXISTS api_keys (
                key_hash TEXT PRIMARY KEY,
                account_id BIGINT NOT NULL REFERENCES accounts(id),
                created_unix BIGINT NOT NULL
            );
            """);
        Execute(c, $"""
            CREATE TABLE IF NOT EXISTS usage_ledger (
                id {id},
                request_id TEXT NOT NULL UNIQUE,
                account_id BIGINT NOT NULL REFERENCES accounts(id),
                model TEXT NOT NULL,
                endpoint TEXT NOT NULL,
                outcome TEXT NOT NULL,
                created_unix BIGINT NOT NULL,
                prompt_tokens INTEGER NOT NULL,
                cache_hit_tokens INTEGER NOT NULL,
                cache_miss_tokens INTEGER NOT NULL,
                completion_tokens INTEGER NOT NULL,
                reasoning_tokens INTEGER NOT NULL,
                cost_nano BIGINT NOT NULL
            );
            """);
        Execute(c, "CREATE INDEX IF NOT EXISTS usage_ledger_account ON usage_ledger(account_id);");
        Execute(c, """
            CREATE TABLE IF NOT EXISTS balance_reservations (
                request_id TEXT PRIMARY KEY,
                account_id BIGINT NOT NULL REFERENCES accounts(id),
                amount_nano BIGINT NOT NULL,
                instance TEXT NOT NULL,
                created_unix BIGINT NOT NULL
            );
            """);
        Execute(c, "CREATE INDEX IF NOT EXISTS balance_reservations_account ON balance_reservations(account_id);");
    }

    private static void Execute(DbConnection c, string sql)
    {
        using var cmd = Command(c, null, sql);
        cmd.ExecuteNonQuery();
    }

    public static string HashKey(string apiKey) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(apiKey)));

    /// <summary>A fresh random key in DeepSeek's shape (sk- and 32 hex digits).</summary>
    public static string NewKey() => "sk-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>Makes <paramref name="apiKey"/> valid: when unknown, creates an account with <paramref name="grantNano"/> granted. Returns the account id.</summary>
    public long EnsureKey(string apiKey, string accountName, long grantNano)
    {
        string hash = HashKey(apiKey);
        using var c = Open();
        using (var find = Command(c, null, "SELECT account_id FROM api_keys WHERE key_hash = @h", ("@h", hash)))
            if (find.ExecuteScalar() is { } existing and not DBNull) return Convert.ToInt64(existing);
        using var tx = c.BeginTransaction();
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var insert = Command(c, tx, "INSERT INTO accounts (name, granted_nano, topped_up_nano, created_unix) VALUES (@n, @g, 0, @t) RETURNING id",
            ("@n", accountName), ("@g", grantNano), ("@t", now));
        long accountId = Convert.ToInt64(insert.ExecuteScalar());
        using var key = Command(c, tx, "INSERT INTO api_keys (key_hash, account_id, created_unix) VALUES (@h, @a, @t)", ("@h", hash), ("@a", accountId), ("@t", now));
        key.ExecuteNonQuery();
        tx.Commit();
        return accountId;
    }

    public int KeyCount()
    {
        using var c = Open();
        using var cmd = Command(c, null, "SELECT COUNT(*) FROM api_keys");
        return Convert.ToInt32(cmd.ExecuteScalar());
    }

    /// <summary>The account of <paramref name="apiKey"/>, or null for an unknown key.</summary>
    public async Task<Account?> FindAccountAsync(string apiKey, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = Command(c, null,
            "SELECT a.id, a.name, a.granted_nano, a.topped_up_nano FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = @h",
            ("@h", HashKey(apiKey)));
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        if (!await r.ReadAsync(ct).ConfigureAwait(false)) return null;
        return new Account(r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3));
    }

    public async Task<Account?> GetAccountAsync(long accountId, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = Command(c, null, "SELECT id, name, granted_nano, topped_up_nano FROM accounts WHERE id = @a", ("@a", accountId));
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        if (!await r.ReadAsync(ct).ConfigureAwait(false)) return null;
        return new Account(r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3));
    }

    /// <summary>Adds <paramref name="nano"/> to the account's topped-up balance.</summary>
    public async Task TopUpAsync(long accountId, long nano, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = Command(c, null, "UPDATE accounts SET topped_up_nano = topped_up_nano + @n WHERE id = @a", ("@n", nano), ("@a", accountId));
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Ledger rows, oldest first (optionally of one account).</summary>
    public async Task<IReadOnlyList<UsageRecord>> LedgerAsync(long? accountId = null, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = Command(c, null,
            "SELECT request_id, account_id, model, endpoint, outcome, prompt_tokens, cache_hit_tokens, cache_miss_tokens, completion_tokens, reasoning_tokens, cost_nano FROM usage_ledger"
            + (accountId is null ? "" : " WHERE account_id = @a") + " ORDER BY id",
            accountId is long a ? [("@a", a)] : []);
        var rows = new List<UsageRecord>();
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
            rows.Add(new UsageRecord
            {
                RequestId = r.GetString(0), AccountId = r.GetInt64(1), Model = r.GetString(2), Endpoint = r.GetString(3), Outcome = r.GetString(4),
                PromptTokens = r.GetInt32(5), CacheHitTokens = r.GetInt32(6), CacheMissTokens = r.GetInt32(7),
                CompletionTokens = r.GetInt32(8), ReasoningTokens = r.GetInt32(9), CostNano = r.GetInt64(10),
            });
        return rows;
    }

    public void Dispose()
    {
        _dataSource?.Dispose();
        _sqliteWrites.Dispose();
        if (!_postgres) SqliteConnection.ClearAllPools();
    }
}

using System.Data.Common;

namespace SharpSeek.Server.Accounts;

// Reserve, then settle. A request's worst-case cost is reserved at admission against the balance less every other
// open reservation of the account, inside one transaction that holds the account (a row lock on PostgreSQL, the
// single writer on SQLite): concurrent admissions see each other's reservations, so together they can never reserve
// more than the balance, and a settled cost never exceeds its reservation (the caller caps it), so no balance goes
// below zero. Settling inserts the ledger row, charges its cost and drops the reservation in one transaction; it is
// idempotent on the request id, so a retry after an unknown outcome (a lost connection at commit) charges once.
public sealed partial class AccountStore
{
    /// <summary>
    /// Reserves for <paramref name="requestId"/> the amount <paramref name="amountFor"/> picks given what the account
    /// has available (balance less open reservations); null from it refuses. Returns the amount reserved, or null.
    /// </summary>
    public async Task<long?> ReserveAsync(long accountId, string requestId, string instance, Func<long, long?> amountFor, CancellationToken ct = default)
    {
        if (!_postgres) await _sqliteWrites.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await using var c = await OpenAsync(ct).ConfigureAwait(false);
            await using var tx = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
            await using var read = Command(c, tx, "SELECT granted_nano + topped_up_nano FROM accounts WHERE id = @a" + (_postgres ? " FOR UPDATE" : ""), ("@a", accountId));
            if (await read.ExecuteScalarAsync(ct).ConfigureAwait(false) is not { } b || b is DBNull) return null;
            long balance = Convert.ToInt64(b);
            await using var sum = Command(c, tx, "SELECT COALESCE(SUM(amount_nano), 0) FROM balance_reservations WHERE account_id = @a", ("@a", accountId));
            long reserved = Convert.ToInt64(await sum.ExecuteScalarAsync(ct).ConfigureAwait(false));
            if (amountFor(balance - reserved) is not long amount) return null;
            await using var insert = Command(c, tx,
                "INSERT INTO balance_reservations (request_id, account_id, amount_nano, instance, created_unix) VALUES (@r, @a, @n, @i, @t)",
                ("@r", requestId), ("@a", accountId), ("@n", amount), ("@i", instance), ("@t", DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
            await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return amount;
        }
        finally
        {
            if (!_postgres) _sqliteWrites.Release();
        }
    }

    /// <summary>Drops a reservation without a ledger row (a request that never reached the engine).</summary>
    public async Task ReleaseAsync(string requestId)
    {
        if (!_postgres) await _sqliteWrites.WaitAsync().ConfigureAwait(false);
        try
        {
            await using var c = await OpenAsync(CancellationToken.None).ConfigureAwait(false);
            await using var cmd = Command(c, null, "DELETE FROM balance_reservations WHERE request_id = @r", ("@r", requestId));
            await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        finally
        {
            if (!_postgres) _sqliteWrites.Release();
        }
    }

    /// <summary>Drops the reservations an earlier run of <paramref name="instance"/> left (it stopped without settling them). Returns how many.</summary>
    public int DropReservations(string instance)
    {
        using var c = Open();
        using var cmd = Command(c, null, "DELETE FROM balance_reservations WHERE instance = @i", ("@i", instance));
        return cmd.ExecuteNonQuery();
    }

    /// <summary>Sum of open reservations of an account, in nano-yuan.</summary>
    public async Task<long> ReservedAsync(long accountId, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = Command(c, null, "SELECT COALESCE(SUM(amount_nano), 0) FROM balance_reservations WHERE account_id = @a", ("@a", accountId));
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false));
    }

    /// <summary>
    /// Inserts the ledger row, charges its cost and drops the request's reservation, atomically. A row already there
    /// (an earlier try that did commit) is left as it is and charged nothing more. Never cancelled.
    /// </summary>
    public async Task SettleAsync(UsageRecord u)
    {
        if (!_postgres) await _sqliteWrites.WaitAsync().ConfigureAwait(false);
        try
        {
            await using var c = await OpenAsync(CancellationToken.None).ConfigureAwait(false);
            await using var tx = await c.BeginTransactionAsync().ConfigureAwait(false);
            await using var insert = Command(c, tx, """
                INSERT INTO usage_ledger (request_id, account_id, model, endpoint, outcome, created_unix, prompt_tokens,
                    cache_hit_tokens, cache_miss_tokens, completion_tokens, reasoning_tokens, cost_nano)
                VALUES (@r, @a, @m, @e, @o, @t, @p, @h, @x, @c, @rt, @cost)
                ON CONFLICT (request_id) DO NOTHING
                """,
                ("@r", u.RequestId), ("@a", u.AccountId), ("@m", u.Model), ("@e", u.Endpoint), ("@o", u.Outcome),
                ("@t", DateTimeOffset.UtcNow.ToUnixTimeSeconds()), ("@p", u.PromptTokens), ("@h", u.CacheHitTokens),
                ("@x", u.CacheMissTokens), ("@c", u.CompletionTokens), ("@rt", u.ReasoningTokens), ("@cost", u.CostNano));
            int inserted = await insert.ExecuteNonQueryAsync().ConfigureAwait(false);
            if (inserted > 0 && u.CostNano > 0)
            {
                // Granted balance pays first; what it cannot cover comes off the topped-up balance.
                await using var charge = Command(c, tx, """
                    UPDATE accounts SET
                        topped_up_nano = topped_up_nano - (CASE WHEN granted_nano >= @cost THEN 0 WHEN granted_nano > 0 THEN @cost - granted_nano ELSE @cost END),
                        granted_nano = CASE WHEN granted_nano >= @cost THEN granted_nano - @cost WHEN granted_nano > 0 THEN 0 ELSE granted_nano END
                    WHERE id = @a
                    """, ("@cost", u.CostNano), ("@a", u.AccountId));
                await charge.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
            await using var release = Command(c, tx, "DELETE FROM balance_reservations WHERE request_id = @r", ("@r", u.RequestId));
            await release.ExecuteNonQueryAsync().ConfigureAwait(false);
            await tx.CommitAsync().ConfigureAwait(false);
        }
        finally
        {
            if (!_postgres) _sqliteWrites.Release();
        }
    }

    /// <summary>A command of <paramref name="sql"/> in <paramref name="tx"/> with its named parameters bound.</summary>
    private static DbCommand Command(DbConnection c, DbTransaction? tx, string sql, params (string Name, object Value)[] parameters)
    {
        var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = name;
            p.Value = value;
            cmd.Parameters.Add(p);
        }
        return cmd;
    }
}

using SharpSeek.Inference;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Router.Tests;

/// <summary>Real <c>serve</c> instances on loopback over one tiny random-weight model, each with its own data folder and cache.</summary>
internal sealed class Replicas : IAsyncDisposable
{
    public const string Key = "sk-router-test-0123456789abcdef0123456789";
    private static readonly Lazy<ServedModel> s_model = new(() => ServedModel.CreateRandom(RandomModelSize.Tiny, seed: 3, maxPositions: 4096));

    public static ServedModel Model => s_model.Value;

    public List<SharpSeekServer> Servers { get; } = [];

    /// <param name="postgres">A shared PostgreSQL ledger for all replicas; null: each its own SQLite file.</param>
    public static async Task<Replicas> StartAsync(int count, string? postgres = null)
    {
        var r = new Replicas();
        for (int i = 0; i < count; i++)
        {
            string dir = Path.Combine(Path.GetTempPath(), "sharpseek-router-tests", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            r.Servers.Add(await SharpSeekServer.StartAsync(new ServerOptions
            {
                Port = 0,
                DataDirectory = dir,
                ApiKeys = [Key],
                Engine = new EngineOptions { MaxContext = 4096, MaxConcurrentSequences = 4, MaxQueuedRequests = 16 },
                RequestsPerSecondPerKey = 1000,
                BurstPerKey = 1000,
                MaxRunningPerKey = 1000,
                MaxQueuedPerKey = 1000,
                ShutdownTimeout = TimeSpan.FromSeconds(3),
                PostgresConnectionString = postgres,
            }, Model));
        }
        return r;
    }

    public IReadOnlyList<Uri> Addresses => Servers.Select(s => s.BaseAddress).ToList();

    public async ValueTask DisposeAsync()
    {
        foreach (var s in Servers) await s.DisposeAsync();
    }
}

using System.CommandLine;
using SharpSeek.Inference;
using SharpSeek.Router;

namespace SharpSeek.Cli.Commands;

/// <summary>
/// <c>sharpseek router</c>: one API address in front of several <c>serve</c> replicas, sending each request to the
/// replica that holds its prompt's prefix in cache (or, with --round-robin, to each in turn).
/// </summary>
internal static class RouterCommand
{
    public static Command Create()
    {
        var host = new Option<string>("--host") { Description = "IP address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port", "-p") { Description = "port to listen on (0 picks a free one)", DefaultValueFactory = _ => 8080 };
        var replicas = new Option<string[]>("--replica") { Description = "base URL of a serve replica, e.g. http://10.0.0.5:8000; repeatable", AllowMultipleArgumentsPerToken = false };
        var file = new Option<string?>("--replicas-file") { Description = "a file of replica URLs, one per line ('#' starts a comment), for many replicas" };
        var roundRobin = new Option<bool>("--round-robin") { Description = "ignore prompt prefixes: each request to the next healthy replica" };
        var command = new Command("router", "Route the API over several serve replicas by prompt prefix (the model's tokenizer and template decide the 64-token blocks)")
        {
            host, port, replicas, file, roundRobin, ServeCommand.ModelOption, ServeCommand.TokenizerOption, ServeCommand.RandomOption,
        };
        command.SetAction(async (parse, ct) =>
        {
            RouterOptions options;
            try
            {
                var urls = (parse.GetValue(replicas) ?? []).ToList();
                if (parse.GetValue(file) is { } path) urls.AddRange(ReadReplicasFile(path));
                if (urls.Count == 0) throw new ArgumentException("give at least one --replica URL (or --replicas-file)");
                var choice = new ModelChoice { ModelPath = parse.GetValue(ServeCommand.ModelOption), TokenizerPath = parse.GetValue(ServeCommand.TokenizerOption), Random = parse.GetValue(ServeCommand.RandomOption) };
                options = new RouterOptions
                {
                    Host = parse.GetValue(host)!,
                    Port = parse.GetValue(port),
                    Replicas = urls.Select(ParseUrl).ToList(),
                    Policy = parse.GetValue(roundRobin) ? RoutingPolicy.RoundRobin : RoutingPolicy.PrefixAware,
                    Tokenizer = choice.LoadTokenizer(),
                };
            }
            catch (Exception e) when (e is ArgumentException or ModelLoadException or IOException)
            {
                await Console.Error.WriteLineAsync("error: " + e.Message);
                return 1;
            }
            await using var router = await RouterServer.StartAsync(options);
            Console.WriteLine($"SharpSeek router at {router.BaseAddress} over {options.Replicas.Count} replicas ({(options.Policy == RoutingPolicy.PrefixAware ? "prefix-aware" : "round-robin")}); status at {router.BaseAddress}router/status");
            foreach (var r in router.Replicas) Console.WriteLine($"  replica {r.Index}: {r.Prefix}");
            Console.WriteLine("Ctrl+C stops.");
            try { await Task.Delay(Timeout.Infinite, ct); }
            catch (OperationCanceledException) { }
            return 0;
        });
        return command;
    }

    internal static IEnumerable<string> ReadReplicasFile(string path)
    {
        if (!File.Exists(path)) throw new ArgumentException($"--replicas-file: no file at '{Path.GetFullPath(path)}'");
        foreach (string raw in File.ReadLines(path))
        {
            string line = raw.Split('#', 2)[0].Trim();
            if (line.Length > 0) yield return line;
        }
    }

    private static Uri ParseUrl(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttp || u.Scheme == Uri.UriSchemeHttps)
            ? u : throw new ArgumentException($"--replica: '{text}' is not an http(s) URL");
}

using System.CommandLine;
using SharpSeek.Cli.Commands;

// Each command lives in its own file under Commands/ and exposes a static Create() returning a Command.
var root = new RootCommand("SharpSeek: DeepSeek-V3 / R1 in C# — train, reason with, serve and chat with DeepSeek-architecture models.");
foreach (var command in CommandCatalog.All())
    root.Subcommands.Add(command);
return await root.Parse(args).InvokeAsync();

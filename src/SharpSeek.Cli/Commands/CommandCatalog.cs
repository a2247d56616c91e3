using System.CommandLine;

namespace SharpSeek.Cli.Commands;

/// <summary>The list of CLI commands; add one line per command.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        yield return TokenizeCommand.Create();
        yield return ServeCommand.Create();
        yield return RouterCommand.Create();
        yield return ChatCommand.Create();
        yield return GenerateCommand.Create();
        yield return LogitsCommand.Create();
        yield return PerplexityCommand.Create();
        yield return ConvertCommand.Create();
        yield return MakeModelCommand.Create();
        yield return TrainCommand.Create();
        yield return TrainTokenizerCommand.Create();
        yield return R1Command.Create();
        yield break;
    }
}

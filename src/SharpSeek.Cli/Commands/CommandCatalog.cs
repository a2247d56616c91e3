using System.CommandLine;

namespace SharpSeek.Cli.Commands;

/// <summary>The list of CLI commands; add one line per command.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        yield break;
    }
}

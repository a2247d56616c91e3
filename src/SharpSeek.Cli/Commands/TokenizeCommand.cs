using System.CommandLine;
using System.Text;
using SharpSeek.Tokenizer;

namespace SharpSeek.Cli.Commands;

/// <summary>
/// <c>sharpseek tokenize --tokenizer PATH</c>: text on stdin → token ids as a JSON array on stdout;
/// with <c>--decode</c>, a JSON array of ids on stdin → text on stdout.
/// </summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var tokenizerOption = new Option<string>("--tokenizer", "-t")
        {
            Description = "tokenizer.json, or a folder holding tokenizer.json (and tokenizer_config.json)",
            Required = true,
        };
        var decodeOption = new Option<bool>("--decode", "-d")
        {
            Description = "read a JSON array of token ids and print the text",
        };
        var addSpecialOption = new Option<bool>("--add-special-tokens")
        {
            Description = "add the tokenizer's BOS/EOS around the text (off by default: the ids of exactly the input)",
        };
        var plainOption = new Option<bool>("--no-parse-special")
        {
            Description = "treat special-token strings such as <｜User｜> in the input as plain text",
        };
        var skipSpecialOption = new Option<bool>("--skip-special-tokens")
        {
            Description = "with --decode, leave control tokens (BOS, EOS, ...) out of the text",
        };

        var command = new Command("tokenize", "Encode stdin to token ids (JSON array), or decode ids back to text")
        {
            tokenizerOption, decodeOption, addSpecialOption, plainOption, skipSpecialOption,
        };
        command.SetAction(parse => Run(
            parse.GetValue(tokenizerOption)!,
            parse.GetValue(decodeOption),
            parse.GetValue(addSpecialOption),
            !parse.GetValue(plainOption),
            parse.GetValue(skipSpecialOption)));
        return command;
    }

    private static int Run(string tokenizerPath, bool decode, bool addSpecialTokens, bool parseSpecialTokens, bool skipSpecialTokens)
    {
        ByteLevelBpeTokenizer tokenizer;
        try
        {
            tokenizer = Directory.Exists(tokenizerPath)
                ? ByteLevelBpeTokenizer.FromDirectory(tokenizerPath)
                : ByteLevelBpeTokenizer.FromFile(tokenizerPath);
        }
        catch (Exception e) when (e is TokenizerFileException or FileNotFoundException or NotSupportedException or IOException)
        {
            Console.Error.WriteLine($"error: cannot load tokenizer: {e.Message}");
            return 1;
        }

        // Bytes in and out as UTF-8 regardless of the console's code page, so text round-trips exactly.
        string input;
        using (var stdin = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false)))
            input = stdin.ReadToEnd();
        using var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));

        if (!decode)
        {
            int[] ids;
            try { ids = tokenizer.Encode(input, addSpecialTokens, parseSpecialTokens); }
            catch (TextNotEncodableException e)
            {
                // An incomplete vocabulary (no token for some byte): the user's file, not a crash.
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
            stdout.WriteLine(TokenIdList.ToJson(ids));
            return 0;
        }
        try
        {
            stdout.Write(tokenizer.Decode(TokenIdList.Parse(input), skipSpecialTokens));
            return 0;
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
        catch (ArgumentOutOfRangeException e)
        {
            // The exception message ends with the parameter name and value; the first sentence says it all.
            Console.Error.WriteLine($"error: {e.Message.Split(" (Parameter", 2)[0]}");
            return 2;
        }
    }
}

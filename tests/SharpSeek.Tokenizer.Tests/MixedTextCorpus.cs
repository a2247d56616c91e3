using System.Text;

namespace SharpSeek.Tokenizer.Tests;

/// <summary>
/// Deterministic synthetic text for parity tests, training tests and the benchmark: English prose, Chinese,
/// Japanese, Korean, mixed scripts, source code, digit runs, whitespace runs, emoji, special-token strings and
/// broken UTF-16. Every code point comes from ranges assigned since Unicode 13 or earlier, so .NET's and Node's
/// Unicode tables (different versions) classify them identically.
/// </summary>
public static class MixedTextCorpus
{
    private static readonly string[] s_words =
    [
        "the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are", "as", "with", "his",
        "they", "at", "be", "this", "have", "from", "or", "one", "had", "by", "word", "but", "not", "what", "all", "were",
        "we", "when", "your", "can", "said", "there", "use", "an", "each", "which", "she", "do", "how", "their", "if",
        "will", "up", "other", "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make",
        "like", "him", "into", "time", "has", "look", "two", "more", "write", "go", "see", "number", "no", "way", "could",
        "people", "my", "than", "first", "water", "been", "call", "who", "oil", "its", "now", "find", "long", "down",
        "day", "did", "get", "come", "made", "may", "part", "model", "token", "tokenizer", "attention", "expert",
        "mixture", "latent", "inference", "gradient", "training", "reasoning", "language", "compute", "memory",
        "throughput", "benchmark", "parameter", "sequence", "decoder", "embedding", "probability", "distribution",
        "internationalization", "unbelievable", "antidisestablishmentarianism", "DeepSeek", "GPU", "CUDA", "API",
        "JSON", "HTTP", "Transformer", "MoE", "MLA", "RoPE", "naïve", "café", "résumé", "Zürich", "São", "Paulo",
        "coöperate", "façade", "jalapeño", "Ångström", "Dvořák", "Łódź", "Kraków", "İstanbul", "straße",
    ];

    private static readonly string[] s_contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'LL", "'D", "n't"];

    private static readonly string[] s_punctuation = [".", ",", "!", "?", ";", ":", "...", "—", "–", "-", "(", ")", "\"", "'", "[", "]", "«", "»", "“", "”", "‘", "’", "…", "/", "&", "%", "#", "@", "*"];

    private static readonly string[] s_chinesePunctuation = ["，", "。", "！", "？", "、", "；", "：", "「", "」", "『", "』", "（", "）", "《", "》", "…", "—"];

    private static readonly string[] s_emoji =
    [
        "😀", "😂", "🥰", "😎", "🤔", "🙏", "👍", "👍🏽", "🔥", "✨", "❤️", "🎉", "🚀", "🌍", "🍣", "🐉", "🤖", "💡", "✅", "❌",
        "👨‍👩‍👧‍👦", "👩🏻‍💻", "🏳️‍🌈", "🇨🇳", "🇺🇸", "🇯🇵", "1️⃣", "©️", "☺️", "⚡", "🧠", "🦀", "🐍", "☕",
    ];

    private static readonly string[] s_codeSnippets =
    [
        "public static int Add(int a, int b)\n{\n    return a + b;\n}\n",
        "def fib(n):\n\tif n < 2:\n\t\treturn n\n\treturn fib(n - 1) + fib(n - 2)\n",
        "for (let i = 0; i < arr.length; i++) {\r\n  console.log(`item ${i}: ${arr[i]}`);\r\n}\r\n",
        "{\"id\": 42, \"name\": \"DeepSeek-V3\", \"layers\": 61, \"experts\": [256, 8], \"ok\": true}",
        "<div class=\"container\">\n  <a href=\"https://example.com/path?q=1&lang=en\">link</a>\n</div>",
        "SELECT id, name FROM users WHERE created_at >= '2024-01-01' ORDER BY id DESC LIMIT 10;",
        "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 0x7fffffff); return 0; }\n",
        "x = np.einsum('bhqd,bhkd->bhqk', q, k) / math.sqrt(d_head)  # scaled dot-product",
        "if err != nil {\n\t\treturn fmt.Errorf(\"read %s: %w\", path, err)\n\t}\n",
        "    # TODO: handle the edge case\n        pass\n\n\n",
        "fn main() { let v: Vec<u32> = (0..10).map(|x| x * x).collect(); println!(\"{:?}\", v); }",
        "$ sudo apt-get install -y build-essential && make -j$(nproc) 2>&1 | tee build.log",
    ];

    private static readonly (int First, int Last)[] s_letterPools =
    [
        (0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x391, 0x3A9), (0x3B1, 0x3C9), (0x410, 0x44F), (0x5D0, 0x5EA),
        (0x621, 0x64A), (0x905, 0x939), (0xE01, 0xE30), (0x4E00, 0x9FA5), (0x9FA6, 0x9FEF), (0x3400, 0x4DB5),
        (0x3041, 0x3096), (0x30A1, 0x30FA), (0xFF66, 0xFF9D), (0xAC00, 0xD7A3), (0xFF21, 0xFF3A), (0x20000, 0x2A6D6),
        (0x1D400, 0x1D454), (0x10400, 0x1044F),
    ];

    private static readonly (int First, int Last)[] s_otherPools =
    [
        (0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E), (0x300, 0x36F), (0x93E, 0x94D), (0x660, 0x669),
        (0x966, 0x96F), (0xFF10, 0xFF19), (0xFF01, 0xFF0F), (0x3000, 0x3003), (0x300C, 0x300F), (0x2160, 0x2188),
        (0xB2, 0xB3), (0xBC, 0xBE), (0x2010, 0x2027), (0x2030, 0x205E), (0x20A0, 0x20BF), (0x2190, 0x21FF),
        (0x2200, 0x22FF), (0x2500, 0x257F), (0x2700, 0x27BF), (0x1F300, 0x1F5FF), (0x1F600, 0x1F64F),
        (0x1F3FB, 0x1F3FF), (0x1F1E6, 0x1F1FF), (0x1D7CE, 0x1D7FF), (0xE000, 0xE0FF), (0x0, 0x1F), (0x7F, 0x9F),
        (0x200B, 0x200F), (0xFE0F, 0xFE0F), (0x3099, 0x309C), (0x30FB, 0x30FC),
    ];

    private static readonly string[] s_whitespace =
        [" ", " ", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\r", "\v", "\f", "\u00A0", "\u3000", "\u2003", "\u2028", "\u2029", "\uFEFF", "\u0085", "\u1680", "\u200B", " \n ", "\t\t", "    "];

    /// <summary>The parity corpus: at least 2,000 strings across every category.</summary>
    /// <param name="specialTokens">Added-token contents to embed (DeepSeek's control tokens).</param>
    public static List<string> ParityStrings(IReadOnlyList<string> specialTokens, int seed = 20250101)
    {
        var rng = new Random(seed);
        var strings = new List<string> { "", " ", "  ", "\n", "\r\n", "a", "A", "'s", "1", "12", "123", "1234", "你", "😀", "\uD800", "\uDC00" };
        for (int c = 0; c < 128; c++)
            strings.Add(((char)c).ToString());
        for (int i = 0; i < 300; i++) strings.Add(EnglishParagraph(rng, rng.Next(1, 6)));
        for (int i = 0; i < 200; i++) strings.Add(ChineseParagraph(rng, rng.Next(5, 120)));
        for (int i = 0; i < 100; i++) strings.Add(JapaneseOrKorean(rng));
        for (int i = 0; i < 200; i++) strings.Add(MixedScripts(rng));
        for (int i = 0; i < 200; i++) strings.Add(Code(rng));
        for (int i = 0; i < 150; i++) strings.Add(Digits(rng));
        for (int i = 0; i < 150; i++) strings.Add(WhitespaceRuns(rng));
        for (int i = 0; i < 150; i++) strings.Add(Emoji(rng));
        for (int i = 0; i < 150; i++) strings.Add(SpecialTokenText(rng, specialTokens));
        for (int i = 0; i < 150; i++) strings.Add(BrokenUtf16(rng));
        for (int i = 0; i < 200; i++) strings.Add(RandomCodePoints(rng, rng.Next(1, 200)));
        strings.AddRange(LongStrings(rng));
        return strings;
    }

    /// <summary>Documents of realistic mixed text (prose in several languages, code, numbers, emoji) totalling about <paramref name="totalChars"/>.</summary>
    public static List<string> Documents(int totalChars, int seed = 7)
    {
        var rng = new Random(seed);
        var documents = new List<string>();
        int total = 0;
        while (total < totalChars)
        {
            var sb = new StringBuilder();
            int parts = rng.Next(3, 10);
            for (int p = 0; p < parts; p++)
            {
                int kind = rng.Next(100);
                sb.Append(kind switch
                {
                    < 45 => EnglishParagraph(rng, rng.Next(2, 8)),
                    < 65 => ChineseParagraph(rng, rng.Next(30, 200)),
                    < 80 => Code(rng),
                    < 85 => JapaneseOrKorean(rng),
                    < 92 => MixedScripts(rng),
                    < 96 => Digits(rng),
                    _ => Emoji(rng),
                });
                sb.Append(rng.Next(3) == 0 ? "\n\n" : "\n");
            }
            documents.Add(sb.ToString());
            total += sb.Length;
        }
        return documents;
    }

    public static string EnglishParagraph(Random rng, int sentences)
    {
        var sb = new StringBuilder();
        for (int s = 0; s < sentences; s++)
        {
            int words = rng.Next(3, 18);
            for (int w = 0; w < words; w++)
            {
                string word = s_words[rng.Next(s_words.Length)];
                if (w == 0)
                    word = char.ToUpperInvariant(word[0]) + word[1..];
                else if (rng.Next(25) == 0)
                    word = word.ToUpperInvariant();
                if (w > 0)
                    sb.Append(rng.Next(40) == 0 ? "  " : " ");
                if (rng.Next(30) == 0)
                    sb.Append(s_punctuation[rng.Next(s_punctuation.Length)]);
                sb.Append(word);
                if (rng.Next(12) == 0)
                    sb.Append(s_contractions[rng.Next(s_contractions.Length)]);
                if (rng.Next(15) == 0)
                    sb.Append(s_punctuation[rng.Next(s_punctuation.Length)]);
                if (rng.Next(40) == 0)
                    sb.Append(' ').Append(rng.Next(0, 100000));
                if (rng.Next(80) == 0)
                    sb.Append(" https://www.example.org/").Append(word).Append(".html");
            }
            sb.Append(rng.Next(5) switch { 0 => "!", 1 => "?", _ => "." });
            if (s + 1 < sentences)
                sb.Append(' ');
        }
        return sb.ToString();
    }

    public static string ChineseParagraph(Random rng, int length)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < length; i++)
        {
            int r = rng.Next(100);
            if (r < 80)
                sb.Append((char)rng.Next(0x4E00, 0x9FA6));
            else if (r < 90)
                sb.Append(s_chinesePunctuation[rng.Next(s_chinesePunctuation.Length)]);
            else if (r < 94)
                sb.Append(' ').Append(s_words[rng.Next(s_words.Length)]).Append(' ');
            else if (r < 97)
                sb.Append(rng.Next(0, 5000));
            else
                sb.Append((char)rng.Next(0x9FA6, 0x9FF0));
        }
        return sb.ToString();
    }

    public static string JapaneseOrKorean(Random rng)
    {
        var sb = new StringBuilder();
        int length = rng.Next(5, 80);
        bool korean = rng.Next(2) == 0;
        for (int i = 0; i < length; i++)
        {
            int r = rng.Next(100);
            if (korean)
                sb.Append(r < 85 ? ((char)rng.Next(0xAC00, 0xD7A4)).ToString() : r < 95 ? " " : "。");
            else
                sb.Append(r switch
                {
                    < 40 => ((char)rng.Next(0x3041, 0x3097)).ToString(),
                    < 65 => ((char)rng.Next(0x30A1, 0x30FB)).ToString(),
                    < 85 => ((char)rng.Next(0x4E00, 0x9FA6)).ToString(),
                    < 88 => "ー",
                    < 90 => ((char)rng.Next(0xFF66, 0xFF9E)).ToString(),
                    < 95 => "、",
                    _ => "。",
                });
        }
        return sb.ToString();
    }

    public static string MixedScripts(Random rng)
    {
        var sb = new StringBuilder();
        int words = rng.Next(2, 20);
        for (int w = 0; w < words; w++)
        {
            var pool = s_letterPools[rng.Next(s_letterPools.Length)];
            int length = rng.Next(1, 10);
            for (int i = 0; i < length; i++)
            {
                sb.Append(char.ConvertFromUtf32(rng.Next(pool.First, pool.Last + 1)));
                if (rng.Next(10) == 0)
                    sb.Append(char.ConvertFromUtf32(rng.Next(0x300, 0x370)));
            }
            int sep = rng.Next(10);
            sb.Append(sep switch
            {
                < 5 => " ",
                < 6 => "",
                < 7 => s_punctuation[rng.Next(s_punctuation.Length)],
                < 8 => rng.Next(100).ToString(),
                < 9 => s_whitespace[rng.Next(s_whitespace.Length)],
                _ => char.ConvertFromUtf32(rng.Next(0x660, 0x66A)),
            });
        }
        return sb.ToString();
    }

    public static string Code(Random rng)
    {
        var sb = new StringBuilder();
        int snippets = rng.Next(1, 4);
        for (int i = 0; i < snippets; i++)
        {
            string snippet = s_codeSnippets[rng.Next(s_codeSnippets.Length)];
            if (rng.Next(4) == 0)
                snippet = snippet.Replace("    ", "\t");
            if (rng.Next(6) == 0)
                snippet = snippet.Replace("\n", "\r\n");
            sb.Append(snippet);
        }
        return sb.ToString();
    }

    public static string Digits(Random rng)
    {
        var sb = new StringBuilder();
        int parts = rng.Next(1, 6);
        for (int p = 0; p < parts; p++)
        {
            int kind = rng.Next(8);
            int length = rng.Next(1, kind == 0 ? 300 : 25);
            switch (kind)
            {
                case 0 or 1:
                    for (int i = 0; i < length; i++) sb.Append((char)('0' + rng.Next(10)));
                    break;
                case 2:
                    sb.Append(rng.Next()).Append(',').Append(rng.Next(1000).ToString("000")).Append('.').Append(rng.Next(100));
                    break;
                case 3:
                    for (int i = 0; i < length; i++) sb.Append((char)(0x660 + rng.Next(10)));
                    break;
                case 4:
                    for (int i = 0; i < length; i++) sb.Append(char.ConvertFromUtf32(0x1D7CE + rng.Next(50)));
                    break;
                case 5:
                    sb.Append("v").Append(rng.Next(10)).Append('.').Append(rng.Next(100)).Append("rc").Append(rng.Next(5)).Append("²½Ⅻ");
                    break;
                case 6:
                    for (int i = 0; i < length; i++) sb.Append((char)(0xFF10 + rng.Next(10)));
                    break;
                default:
                    sb.Append("3.14159e-").Append(rng.Next(40)).Append("x").Append(rng.Next(1, 999999)).Append("个");
                    break;
            }
            sb.Append(rng.Next(3) switch { 0 => " ", 1 => "", _ => s_words[rng.Next(s_words.Length)] });
        }
        return sb.ToString();
    }

    public static string WhitespaceRuns(Random rng)
    {
        var sb = new StringBuilder();
        int parts = rng.Next(1, 8);
        for (int p = 0; p < parts; p++)
        {
            int runs = rng.Next(1, 6);
            for (int r = 0; r < runs; r++)
                sb.Append(s_whitespace[rng.Next(s_whitespace.Length)]);
            if (rng.Next(5) == 0)
                sb.Append(' ', rng.Next(1, 40));
            if (rng.Next(4) != 0)
                sb.Append(rng.Next(3) switch { 0 => s_words[rng.Next(s_words.Length)], 1 => "。", _ => "{" });
        }
        return sb.ToString();
    }

    public static string Emoji(Random rng)
    {
        var sb = new StringBuilder();
        int parts = rng.Next(1, 12);
        for (int p = 0; p < parts; p++)
        {
            sb.Append(s_emoji[rng.Next(s_emoji.Length)]);
            int r = rng.Next(6);
            if (r == 0) sb.Append(' ');
            else if (r == 1) sb.Append(s_words[rng.Next(s_words.Length)]);
            else if (r == 2) sb.Append((char)rng.Next(0x4E00, 0x9FA6));
        }
        return sb.ToString();
    }

    public static string SpecialTokenText(Random rng, IReadOnlyList<string> specialTokens)
    {
        if (specialTokens.Count == 0)
            return EnglishParagraph(rng, 1);
        var sb = new StringBuilder();
        int parts = rng.Next(1, 6);
        for (int p = 0; p < parts; p++)
        {
            string token = specialTokens[rng.Next(specialTokens.Count)];
            int r = rng.Next(10);
            if (r < 6)
                sb.Append(token);
            else if (r < 8)
                sb.Append(token[..Math.Max(1, token.Length - 1 - rng.Next(token.Length / 2))]); // truncated: plain text
            else
                sb.Append(token.ToUpperInvariant());
            sb.Append(rng.Next(4) switch
            {
                0 => "",
                1 => " ",
                2 => "\n",
                _ => s_words[rng.Next(s_words.Length)],
            });
        }
        return sb.ToString();
    }

    public static string BrokenUtf16(Random rng)
    {
        var sb = new StringBuilder();
        int parts = rng.Next(1, 8);
        for (int p = 0; p < parts; p++)
        {
            int r = rng.Next(6);
            if (r == 0) sb.Append((char)rng.Next(0xD800, 0xDC00));
            else if (r == 1) sb.Append((char)rng.Next(0xDC00, 0xE000));
            else if (r == 2) sb.Append((char)rng.Next(0xDC00, 0xE000)).Append((char)rng.Next(0xD800, 0xDC00)); // reversed pair
            else if (r == 3) sb.Append(s_words[rng.Next(s_words.Length)]);
            else if (r == 4) sb.Append(' ');
            else sb.Append("😀");
        }
        return sb.ToString();
    }

    public static string RandomCodePoints(Random rng, int length)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < length; i++)
        {
            var pools = rng.Next(3) == 0 ? s_otherPools : s_letterPools;
            var pool = pools[rng.Next(pools.Length)];
            sb.Append(char.ConvertFromUtf32(rng.Next(pool.First, pool.Last + 1)));
            if (rng.Next(8) == 0)
                sb.Append(s_whitespace[rng.Next(s_whitespace.Length)]);
        }
        return sb.ToString();
    }

    private static IEnumerable<string> LongStrings(Random rng)
    {
        yield return new string('a', 5000);
        yield return new string(' ', 3000) + "x";
        yield return new string(' ', 3000);
        yield return string.Concat(Enumerable.Repeat("ab", 2000));
        yield return new string('\n', 500) + "end";
        yield return string.Concat(Enumerable.Repeat("的", 3000));
        yield return new string('9', 4000);
        yield return string.Concat(Enumerable.Repeat("😀", 1000));
        yield return string.Concat(Enumerable.Repeat("=-", 1500));
        for (int i = 0; i < 21; i++)
        {
            var sb = new StringBuilder();
            while (sb.Length < 2000 + i * 500)
                sb.Append(rng.Next(3) switch { 0 => EnglishParagraph(rng, 3), 1 => ChineseParagraph(rng, 100), _ => Code(rng) });
            if (i % 3 == 0)
                sb.Append(RandomCodePoints(rng, 3000).Replace(" ", ""));
            yield return sb.ToString();
        }
    }
}

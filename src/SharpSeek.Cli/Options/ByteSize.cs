using System.Globalization;

namespace SharpSeek.Cli.Options;

/// <summary>Memory sizes on the command line: a number with an optional unit (B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T…), powers of 1024.</summary>
internal static class ByteSize
{
    /// <summary>Parses <paramref name="text"/>; throws <see cref="ArgumentException"/> naming <paramref name="option"/> when it is not a positive size.</summary>
    public static long Parse(string text, string option)
    {
        string s = text.Trim();
        int split = 0;
        while (split < s.Length && (char.IsDigit(s[split]) || s[split] == '.')) split++;
        string unit = s[split..].Trim().ToUpperInvariant().Replace("IB", "").TrimEnd('B');
        long multiplier = unit switch
        {
            "" => 1,
            "K" => 1L << 10,
            "M" => 1L << 20,
            "G" => 1L << 30,
            "T" => 1L << 40,
            _ => 0,
        };
        if (split == 0 || multiplier == 0 || !double.TryParse(s[..split], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value))
            throw new ArgumentException($"{option}: '{text}' is not a size (examples: 4G, 512M, 1.5GiB, 268435456)");
        double bytes = value * multiplier;
        if (!(bytes >= 1) || bytes > long.MaxValue / 2)
            throw new ArgumentException($"{option}: '{text}' must be a positive size below 4 EiB");
        return (long)bytes;
    }

    public static string Format(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F2} GiB"
        : bytes >= 1L << 20 ? $"{bytes / (double)(1L << 20):F1} MiB"
        : $"{bytes:N0} bytes";
}

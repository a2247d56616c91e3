using SharpSeek.Formats;
using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using SharpSeek.Tokenizer.PreTokenization;

namespace SharpSeek.Tokenizer.Training;

/// <summary>
/// The result of <see cref="ByteLevelBpeTrainer.Train"/>: tokens by id (special tokens first, then the 256 byte
/// tokens, then one token per new merge) and the merges in rank order. Writes the standard Hugging Face files.
/// </summary>
public sealed class TrainedBpeVocabulary
{
    private readonly BpeTrainerOptions _options;

    internal TrainedBpeVocabulary(string[] tokens, IReadOnlyList<(string Left, string Right)> merges, BpeTrainerOptions options)
    {
        Tokens = tokens;
        Merges = merges;
        _options = options;
    }

    /// <summary>Token text by id (byte-level alphabet for learned tokens, literal for special tokens).</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>Merge rules in rank order.</summary>
    public IReadOnlyList<(string Left, string Right)> Merges { get; }

    private string? Bos => _options.BosToken ?? (_options.SpecialTokens.Count > 0 ? _options.SpecialTokens[0] : null);

    private string? Eos => _options.EosToken ?? (_options.SpecialTokens.Count > 1 ? _options.SpecialTokens[1] : null);

    private string? Pad => _options.PadToken ?? (_options.SpecialTokens.Count > 2 ? _options.SpecialTokens[2] : null);

    /// <summary>
    /// Writes <c>tokenizer.json</c> and <c>tokenizer_config.json</c> into <paramref name="directory"/> (created if
    /// needed), each whole or not at all (<see cref="AtomicFile"/>): an interrupted save leaves the previous files.
    /// </summary>
    public void Save(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        Directory.CreateDirectory(directory);
        AtomicFile.WriteAllBytes(Path.Combine(directory, "tokenizer.json"), TokenizerJson());
        AtomicFile.WriteAllBytes(Path.Combine(directory, "tokenizer_config.json"), TokenizerConfigJson());
    }

    /// <summary>A tokenizer for the trained vocabulary, built from the same JSON <see cref="Save"/> writes.</summary>
    public ByteLevelBpeTokenizer ToTokenizer() => ByteLevelBpeTokenizer.FromHuggingFaceJson(TokenizerJson(), TokenizerConfigJson());

    private static readonly JsonWriterOptions s_writerOptions = new()
    {
        Indented = true,
        // Keep non-ASCII vocab text readable, as the tokenizers library writes it.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The tokenizers-library serialization (readable by HF tokenizers, transformers.js and this library).</summary>
    public byte[] TokenizerJson()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, s_writerOptions))
        {
            json.WriteStartObject();
            json.WriteString("version", "1.0");
            json.WriteNull("truncation");
            json.WriteNull("padding");
            json.WriteStartArray("added_tokens");
            for (int id = 0; id < _options.SpecialTokens.Count; id++)
            {
                json.WriteStartObject();
                json.WriteNumber("id", id);
                json.WriteString("content", _options.SpecialTokens[id]);
                json.WriteBoolean("single_word", false);
                json.WriteBoolean("lstrip", false);
                json.WriteBoolean("rstrip", false);
                json.WriteBoolean("normalized", false);
                json.WriteBoolean("special", true);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteNull("normalizer");
            WritePreTokenizer(json, _options.PreTokenizer);
            WriteByteLevel(json, "post_processor", addPrefixSpace: true, trimOffsets: false, useRegex: true);
            WriteByteLevel(json, "decoder", addPrefixSpace: true, trimOffsets: true, useRegex: true);

            json.WriteStartObject("model");
            json.WriteString("type", "BPE");
            json.WriteNull("dropout");
            json.WriteNull("unk_token");
            json.WriteNull("continuing_subword_prefix");
            json.WriteNull("end_of_word_suffix");
            json.WriteBoolean("fuse_unk", false);
            json.WriteBoolean("byte_fallback", false);
            json.WriteBoolean("ignore_merges", false);
            json.WriteStartObject("vocab");
            for (int id = 0; id < Tokens.Count; id++)
                json.WriteNumber(Tokens[id], id);
            json.WriteEndObject();
            // [left, right] pairs (tokenizers >= 0.20), unambiguous even if a token contained a space.
            json.WriteStartArray("merges");
            foreach (var (left, right) in Merges)
            {
                json.WriteStartArray();
                json.WriteStringValue(left);
                json.WriteStringValue(right);
                json.WriteEndArray();
            }
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void WritePreTokenizer(Utf8JsonWriter json, PreTokenizer preTokenizer)
    {
        json.WriteStartObject("pre_tokenizer");
        if (ReferenceEquals(preTokenizer, PreTokenizer.Gpt2))
        {
            // GPT-2 files use ByteLevel's built-in regex.
            json.WriteString("type", "ByteLevel");
            json.WriteBoolean("add_prefix_space", false);
            json.WriteBoolean("trim_offsets", true);
            json.WriteBoolean("use_regex", true);
            json.WriteEndObject();
            return;
        }
        json.WriteString("type", "Sequence");
        json.WriteStartArray("pretokenizers");
        foreach (string regex in preTokenizer.RegexSources)
        {
            json.WriteStartObject();
            json.WriteString("type", "Split");
            json.WriteStartObject("pattern");
            json.WriteString("Regex", regex);
            json.WriteEndObject();
            json.WriteString("behavior", "Isolated");
            json.WriteBoolean("invert", false);
            json.WriteEndObject();
        }
        json.WriteStartObject();
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", false);
        json.WriteBoolean("trim_offsets", true);
        json.WriteBoolean("use_regex", false);
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteByteLevel(Utf8JsonWriter json, string name, bool addPrefixSpace, bool trimOffsets, bool useRegex)
    {
        json.WriteStartObject(name);
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", addPrefixSpace);
        json.WriteBoolean("trim_offsets", trimOffsets);
        json.WriteBoolean("use_regex", useRegex);
        json.WriteEndObject();
    }

    /// <summary>transformers' settings: special-token names, BOS policy, optional chat template.</summary>
    public byte[] TokenizerConfigJson()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, s_writerOptions))
        {
            json.WriteStartObject();
            json.WriteBoolean("add_bos_token", _options.AddBosToken && Bos is not null);
            json.WriteBoolean("add_eos_token", false);
            WriteOptional(json, "bos_token", Bos);
            WriteOptional(json, "eos_token", Eos);
            WriteOptional(json, "pad_token", Pad);
            json.WriteBoolean("clean_up_tokenization_spaces", false);
            json.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
            if (_options.ChatTemplate is not null)
                json.WriteString("chat_template", _options.ChatTemplate);
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteOptional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
            json.WriteNull(name);
        else
            json.WriteString(name, value);
    }
}

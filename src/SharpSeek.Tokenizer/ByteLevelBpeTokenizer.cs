using System.Buffers;
using System.Text;
using SharpSeek.Tokenizer.Chat;
using SharpSeek.Tokenizer.PreTokenization;

namespace SharpSeek.Tokenizer;

/// <summary>
/// A byte-level BPE tokenizer (GPT-2 family: DeepSeek-V3/R1, DeepSeek LLM/V2, Qwen2, Llama 3), loaded from a
/// Hugging Face <c>tokenizer.json</c> (+ <c>tokenizer_config.json</c>) or from the vocabulary arrays of a GGUF file.
/// Immutable and safe to share between threads.
/// </summary>
/// <remarks>
/// Encoding: added tokens are cut out of the text first (leftmost, longest), the rest is normalized (NFC where the
/// file asks for it), split by the pre-tokenizer, and each piece goes through BPE on its UTF-8 bytes.
/// Decoding concatenates the bytes of the tokens and decodes UTF-8 once, so a character split across tokens
/// comes out whole; invalid sequences become U+FFFD.
/// </remarks>
public sealed class ByteLevelBpeTokenizer
{
    private readonly string?[] _tokens;
    private readonly Dictionary<string, int> _tokenToId;
    private readonly BpeModel _bpe;
    private readonly AddedTokenMatcher _addedTokens;
    private readonly bool[] _skipWhenDecoding;
    private readonly byte[] _decodeBytes;
    private readonly int[] _decodeOffsets;
    private readonly bool _normalizeNfc;
    private readonly int[] _prefixIds;
    private readonly int[] _suffixIds;
    private readonly DeepSeekChatTemplate? _chatTemplate;

    [ThreadStatic]
    private static List<(int Start, int Length)>? t_pieces;

    internal ByteLevelBpeTokenizer(TokenizerParts parts)
    {
        _tokens = parts.Tokens;
        VocabularySize = _tokens.Length;
        PreTokenizer = parts.PreTokenizer;
        AddedTokens = parts.AddedTokens.ToArray();
        _normalizeNfc = parts.NormalizeNfc;
        _prefixIds = parts.PrefixIds;
        _suffixIds = parts.SuffixIds;
        BosTokenId = parts.BosTokenId;
        EosTokenId = parts.EosTokenId;
        PadTokenId = parts.PadTokenId;
        ChatTemplateSource = parts.ChatTemplate;
        CleanUpTokenizationSpaces = parts.CleanUpTokenizationSpaces;

        if (VocabularySize > BpeMergeTable.MaxTokenId + 1)
            throw new NotSupportedException($"{parts.Source}: {VocabularySize} tokens exceed the supported {BpeMergeTable.MaxTokenId + 1}");
        var literal = new bool[VocabularySize];
        foreach (AddedToken added in AddedTokens)
        {
            if ((uint)added.Id >= (uint)VocabularySize)
                throw new TokenizerFileException($"{parts.Source}: added token '{added.Content}' has id {added.Id}, outside the vocabulary (size {VocabularySize})");
            literal[added.Id] = true;
            _tokens[added.Id] = added.Content;
        }
        // Encode emits these ids as they are, so each must be a token Decode knows.
        foreach (int id in parts.PrefixIds.Concat(parts.SuffixIds))
        {
            if ((uint)id >= (uint)VocabularySize || _tokens[id] is null)
                throw new TokenizerFileException($"{parts.Source}: special token id {id} added around encoded text is not in the vocabulary (size {VocabularySize})");
        }

        // Ordinary vocabulary (what merges refer to) and the full token → id map (added tokens win on clashes).
        var ordinary = new Dictionary<string, int>(VocabularySize, StringComparer.Ordinal);
        for (int id = 0; id < VocabularySize; id++)
        {
            string? text = _tokens[id];
            if (text is null || literal[id])
                continue;
            // A text listed twice (only possible in GGUF arrays) maps to its last id, as in llama.cpp.
            ordinary[text] = id;
        }
        _tokenToId = new Dictionary<string, int>(ordinary, StringComparer.Ordinal);
        foreach (AddedToken added in AddedTokens)
            _tokenToId[added.Content] = added.Id;

        var byteToId = new int[256];
        for (int b = 0; b < 256; b++)
            byteToId[b] = ordinary.TryGetValue(ByteLevelAlphabet.ToChar((byte)b).ToString(), out int id) ? id : -1;

        var merges = new BpeMergeTable(parts.Merges.Count);
        for (int rank = 0; rank < parts.Merges.Count; rank++)
        {
            var (left, right) = parts.Merges[rank];
            int leftId = LookUpMergePart(ordinary, left, rank, left, right, parts.Source);
            int rightId = LookUpMergePart(ordinary, right, rank, left, right, parts.Source);
            int mergedId = LookUpMergePart(ordinary, left + right, rank, left, right, parts.Source);
            merges.Set(leftId, rightId, rank, mergedId);
        }
        _bpe = new BpeModel(byteToId, merges, parts.IgnoreMerges ? ordinary : null);

        _addedTokens = new AddedTokenMatcher(AddedTokens);

        _skipWhenDecoding = new bool[VocabularySize];
        foreach (AddedToken added in AddedTokens)
            _skipWhenDecoding[added.Id] |= added.Special;
        foreach (int id in parts.ExtraSpecialIds)
        {
            if ((uint)id < (uint)VocabularySize)
                _skipWhenDecoding[id] = true;
        }

        (_decodeBytes, _decodeOffsets) = BuildDecodeTable(_tokens, literal);

        BosToken = BosTokenId is int bos ? _tokens[bos] : null;
        EosToken = EosTokenId is int eos ? _tokens[eos] : null;
        if (ChatTemplateSource is not null && DeepSeekChatTemplate.Detect(ChatTemplateSource) is ChatTemplateKind kind)
            _chatTemplate = new DeepSeekChatTemplate(kind, BosToken ?? "");
    }

    private static int LookUpMergePart(Dictionary<string, int> vocab, string token, int rank, string left, string right, string source)
    {
        if (vocab.TryGetValue(token, out int id))
            return id;
        throw new TokenizerFileException(
            $"{source}: merge #{rank} ('{left}' + '{right}') refers to '{token}', which is not in the vocabulary");
    }

    private static (byte[] Bytes, int[] Offsets) BuildDecodeTable(string?[] tokens, bool[] literal)
    {
        var bytes = new List<byte>(tokens.Length * 8);
        var offsets = new int[tokens.Length + 1];
        for (int id = 0; id < tokens.Length; id++)
        {
            offsets[id] = bytes.Count;
            string? text = tokens[id];
            if (text is null)
                continue;
            if (literal[id])
                bytes.AddRange(Encoding.UTF8.GetBytes(text));
            else
                ByteLevelAlphabet.Decode(text, bytes);
        }
        offsets[tokens.Length] = bytes.Count;
        return (bytes.ToArray(), offsets);
    }

    // ---- Loading ---------------------------------------------------------------------------------------------

    /// <summary>
    /// Loads <c>tokenizer.json</c>; <c>tokenizer_config.json</c> is read from <paramref name="tokenizerConfigPath"/>,
    /// or from the same folder when that is null and the file exists there.
    /// </summary>
    /// <exception cref="TokenizerFileException">A file is malformed or describes an unsupported tokenizer.</exception>
    /// <exception cref="NotSupportedException">The file needs NFC normalization and the runtime cannot normalize.</exception>
    public static ByteLevelBpeTokenizer FromFile(string tokenizerJsonPath, string? tokenizerConfigPath = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizerJsonPath);
        if (!File.Exists(tokenizerJsonPath))
            throw new FileNotFoundException($"tokenizer file not found: {tokenizerJsonPath}", tokenizerJsonPath);
        if (tokenizerConfigPath is null)
        {
            string sibling = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizerJsonPath))!, "tokenizer_config.json");
            if (File.Exists(sibling))
                tokenizerConfigPath = sibling;
        }
        else if (!File.Exists(tokenizerConfigPath))
        {
            throw new FileNotFoundException($"tokenizer config file not found: {tokenizerConfigPath}", tokenizerConfigPath);
        }
        byte[] json = File.ReadAllBytes(tokenizerJsonPath);
        byte[]? config = tokenizerConfigPath is null ? null : File.ReadAllBytes(tokenizerConfigPath);
        return new ByteLevelBpeTokenizer(HuggingFaceTokenizerReader.Read(json, config, tokenizerJsonPath, tokenizerConfigPath));
    }

    /// <summary>Loads a folder holding <c>tokenizer.json</c> and, optionally, <c>tokenizer_config.json</c>.</summary>
    public static ByteLevelBpeTokenizer FromDirectory(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string json = Path.Combine(directory, "tokenizer.json");
        if (!File.Exists(json))
            throw new FileNotFoundException($"no tokenizer.json in {directory}", json);
        return FromFile(json);
    }

    /// <summary>Builds a tokenizer from the UTF-8 contents of <c>tokenizer.json</c> and (optionally) <c>tokenizer_config.json</c>.</summary>
    public static ByteLevelBpeTokenizer FromHuggingFaceJson(ReadOnlySpan<byte> tokenizerJson, ReadOnlySpan<byte> tokenizerConfigJson = default) =>
        new(HuggingFaceTokenizerReader.Read(tokenizerJson, tokenizerConfigJson.IsEmpty ? null : tokenizerConfigJson.ToArray(), "tokenizer.json", "tokenizer_config.json"));

    /// <summary>
    /// Builds a tokenizer from the <c>tokenizer.ggml.*</c> metadata of a GGUF file.
    /// </summary>
    /// <param name="model"><c>tokenizer.ggml.model</c>; must be "gpt2" (byte-level BPE).</param>
    /// <param name="preTokenizer"><c>tokenizer.ggml.pre</c>, e.g. "deepseek-v3", "deepseek-llm", "qwen2", "llama-bpe".</param>
    /// <param name="tokens"><c>tokenizer.ggml.tokens</c>: token text by id.</param>
    /// <param name="merges"><c>tokenizer.ggml.merges</c>: "left right" per rule, in rank order.</param>
    /// <param name="tokenTypes"><c>tokenizer.ggml.token_type</c> (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).</param>
    /// <param name="bosTokenId"><c>tokenizer.ggml.bos_token_id</c>.</param>
    /// <param name="eosTokenId"><c>tokenizer.ggml.eos_token_id</c>.</param>
    /// <param name="paddingTokenId"><c>tokenizer.ggml.padding_token_id</c>.</param>
    /// <param name="addBosToken"><c>tokenizer.ggml.add_bos_token</c> (absent: false).</param>
    /// <param name="addEosToken"><c>tokenizer.ggml.add_eos_token</c> (absent: false).</param>
    /// <param name="chatTemplate"><c>tokenizer.chat_template</c>.</param>
    /// <exception cref="TokenizerFileException">The arrays are inconsistent (lengths, ids, merges).</exception>
    /// <exception cref="NotSupportedException">The model or pre-tokenizer is not a supported byte-level BPE.</exception>
    public static ByteLevelBpeTokenizer FromGguf(
        string model,
        string preTokenizer,
        IReadOnlyList<string> tokens,
        IReadOnlyList<string> merges,
        IReadOnlyList<int>? tokenTypes = null,
        int? bosTokenId = null,
        int? eosTokenId = null,
        int? paddingTokenId = null,
        bool? addBosToken = null,
        bool? addEosToken = null,
        string? chatTemplate = null) =>
        new(GgufVocabularyReader.Read(model, preTokenizer, tokens, merges, tokenTypes, bosTokenId, eosTokenId,
            paddingTokenId, addBosToken, addEosToken, chatTemplate));

    // ---- Properties ------------------------------------------------------------------------------------------

    /// <summary>Number of ids (largest id + 1), added tokens included.</summary>
    public int VocabularySize { get; }

    public PreTokenizer PreTokenizer { get; }

    public IReadOnlyList<AddedToken> AddedTokens { get; }

    public int? BosTokenId { get; }

    public int? EosTokenId { get; }

    public int? PadTokenId { get; }

    public string? BosToken { get; }

    public string? EosToken { get; }

    /// <summary>The ids <c>addSpecialTokens: true</c> puts before the text (usually just BOS).</summary>
    public IReadOnlyList<int> SpecialPrefixIds => _prefixIds;

    /// <summary>The Jinja chat template that came with the tokenizer, verbatim.</summary>
    public string? ChatTemplateSource { get; }

    /// <summary>The DeepSeek chat template recognised in <see cref="ChatTemplateSource"/>, if it is one we implement.</summary>
    public DeepSeekChatTemplate? ChatTemplate => _chatTemplate;

    public bool CleanUpTokenizationSpaces { get; }

    /// <summary>The id of a token given its vocab text (byte-level alphabet, e.g. "Ġthe") or an added token's content.</summary>
    public int? TokenToId(string token) => _tokenToId.TryGetValue(token, out int id) ? id : null;

    /// <summary>The vocab text of a token id.</summary>
    public string IdToToken(int id)
    {
        CheckId(id);
        return _tokens[id]!;
    }

    /// <summary>Whether <paramref name="id"/> is a control token (dropped by <c>skipSpecialTokens</c>).</summary>
    public bool IsSpecial(int id)
    {
        CheckId(id);
        return _skipWhenDecoding[id];
    }

    // ---- Encoding --------------------------------------------------------------------------------------------

    /// <summary>Encodes text to token ids.</summary>
    /// <param name="text">Any UTF-16 text; lone surrogates are encoded as U+FFFD.</param>
    /// <param name="addSpecialTokens">Add the tokenizer's BOS/EOS (see <see cref="SpecialPrefixIds"/>); HF's default is true, ours false.</param>
    /// <param name="parseSpecialTokens">
    /// Recognise added tokens written in the text (e.g. "&lt;｜User｜&gt;", "&lt;think&gt;") as single tokens, as the
    /// reference tokenizers do. When false, the whole text is encoded as ordinary text, so user-supplied text can
    /// never inject a control token. (llama.cpp's <c>parse_special = false</c> still matches USER_DEFINED tokens;
    /// DeepSeek's chat markers are not user-defined in HF files, so "nothing" is the only consistent rule.)
    /// </param>
    /// <exception cref="TextNotEncodableException">The text holds a byte the vocabulary has no token for (incomplete vocabularies only).</exception>
    public int[] Encode(string text, bool addSpecialTokens = false, bool parseSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        Encode(text.AsSpan(), ids, addSpecialTokens, parseSpecialTokens);
        return ids.ToArray();
    }

    /// <summary>Encodes text, appending the ids to <paramref name="ids"/>.</summary>
    public void Encode(ReadOnlySpan<char> text, List<int> ids, bool addSpecialTokens = false, bool parseSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (addSpecialTokens)
            ids.AddRange(_prefixIds);

        int position = 0;
        bool trimStart = false;
        while (parseSpecialTokens && position < text.Length && _addedTokens.TryFindNext(text, position, out int start, out AddedToken? token))
        {
            EncodeOrdinary(text[position..start], ids, trimStart, trimEnd: token.LStrip);
            ids.Add(token.Id);
            trimStart = token.RStrip;
            position = start + token.Content.Length;
        }
        if (position < text.Length)
            EncodeOrdinary(text[position..], ids, trimStart, trimEnd: false);

        if (addSpecialTokens)
            ids.AddRange(_suffixIds);
    }

    private void EncodeOrdinary(ReadOnlySpan<char> section, List<int> ids, bool trimStart, bool trimEnd)
    {
        // lstrip/rstrip of a neighbouring added token eat the whitespace next to it (JS trimStart/trimEnd).
        if (trimStart)
            section = section[(CodePointClass.SkipRun(section, 0, CodePointFlags.Whitespace))..];
        if (trimEnd)
        {
            int end = section.Length;
            while (end > 0 && (CodePointClass.Of(section[end - 1]) & CodePointFlags.Whitespace) != 0)
                end--;
            section = section[..end];
        }
        if (section.IsEmpty)
            return;

        string? normalized = null;
        if (_normalizeNfc)
        {
            normalized = section.ToString().Normalize(NormalizationForm.FormC);
            section = normalized;
        }

        List<(int Start, int Length)> pieces = t_pieces ??= new List<(int, int)>(256);
        pieces.Clear();
        PreTokenizer.Split(section, pieces);
        foreach (var (start, length) in pieces)
            _bpe.Encode(section.Slice(start, length), ids);
        pieces.Clear();
        if (pieces.Capacity > 1 << 16)
            t_pieces = null; // do not keep a huge buffer alive after one enormous input
    }

    // ---- Decoding --------------------------------------------------------------------------------------------

    /// <summary>Decodes ids to text; bytes that do not form valid UTF-8 become U+FFFD.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary.</exception>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        int total = 0;
        foreach (int id in ids)
        {
            CheckId(id);
            if (!(skipSpecialTokens && _skipWhenDecoding[id]))
                total += _decodeOffsets[id + 1] - _decodeOffsets[id];
        }
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(total, 1));
        try
        {
            int length = 0;
            foreach (int id in ids)
            {
                if (skipSpecialTokens && _skipWhenDecoding[id])
                    continue;
                ReadOnlySpan<byte> bytes = TokenBytes(id);
                bytes.CopyTo(buffer.AsSpan(length));
                length += bytes.Length;
            }
            string text = Encoding.UTF8.GetString(buffer, 0, length);
            return CleanUpTokenizationSpaces ? CleanUpSpaces(text) : text;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The raw bytes a token stands for (a fragment of UTF-8 for byte-level tokens).</summary>
    public ReadOnlySpan<byte> TokenBytes(int id)
    {
        CheckId(id);
        return _decodeBytes.AsSpan(_decodeOffsets[id], _decodeOffsets[id + 1] - _decodeOffsets[id]);
    }

    /// <summary>A decoder for generation: feed ids one at a time, get back only whole characters.</summary>
    public TokenStreamDecoder CreateStreamDecoder(bool skipSpecialTokens = false) => new(this, skipSpecialTokens);

    internal bool SkipWhenDecoding(int id) => _skipWhenDecoding[id];

    internal BpeModel Model => _bpe;

    private void CheckId(int id)
    {
        if ((uint)id >= (uint)VocabularySize || _tokens[id] is null)
            throw new ArgumentOutOfRangeException(nameof(id), id,
                $"token id {id} is not in the vocabulary (ids 0..{VocabularySize - 1})");
    }

    /// <summary>HF's <c>clean_up_tokenization</c>: drops spaces that English word-piece tokenizers put before punctuation.</summary>
    private static string CleanUpSpaces(string text) => text
        .Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
        .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");

    // ---- Chat ------------------------------------------------------------------------------------------------

    /// <summary>Renders a conversation with the tokenizer's own chat template.</summary>
    /// <exception cref="InvalidOperationException">The tokenizer has no chat template we implement.</exception>
    public string ApplyChatTemplate(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        DeepSeekChatTemplate template = _chatTemplate ?? throw new InvalidOperationException(
            ChatTemplateSource is null
                ? "this tokenizer has no chat template; create a DeepSeekChatTemplate for the model's format explicitly"
                : "this tokenizer's chat template is not one of the DeepSeek templates implemented " +
                  "(V3, R1, R1-Distill); create a DeepSeekChatTemplate explicitly");
        return template.Render(messages, addGenerationPrompt);
    }

    /// <summary>Renders a conversation with the tokenizer's template and encodes it (control tokens parsed, no extra BOS).</summary>
    public int[] EncodeChat(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) =>
        Encode(ApplyChatTemplate(messages, addGenerationPrompt), addSpecialTokens: false, parseSpecialTokens: true);
}

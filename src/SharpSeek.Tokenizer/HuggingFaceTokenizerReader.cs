using System.Text.Json;
using SharpSeek.Tokenizer.PreTokenization;

namespace SharpSeek.Tokenizer;

/// <summary>
/// Reads Hugging Face <c>tokenizer.json</c> (the tokenizers library's serialization) and <c>tokenizer_config.json</c>
/// (transformers' settings: special-token names, BOS/EOS policy, chat template). Only byte-level BPE is accepted;
/// anything else is reported with the JSON path of the offending part.
/// </summary>
internal static class HuggingFaceTokenizerReader
{
    public static TokenizerParts Read(ReadOnlySpan<byte> tokenizerJson, byte[]? configJson, string jsonName, string? configName)
    {
        // System.Text.Json decodes a string only when it is read and then throws InvalidOperationException for text
        // that is not Unicode (invalid UTF-8 or an unpaired surrogate escape); it throws the same for a value read as a
        // string that is not one (a few optional fields are read that way). Either way it is the file's fault.
        try { return ReadDocuments(tokenizerJson, configJson, jsonName, configName); }
        catch (InvalidOperationException e)
        {
            string files = configJson is null ? jsonName : $"{jsonName} or {configName ?? "tokenizer_config.json"}";
            throw new TokenizerFileException($"{files} holds text that is not valid Unicode, or a value of the wrong JSON type: {e.Message}", e);
        }
    }

    private static TokenizerParts ReadDocuments(ReadOnlySpan<byte> tokenizerJson, byte[]? configJson, string jsonName, string? configName)
    {
        using JsonDocument document = Parse(tokenizerJson, jsonName);
        using JsonDocument? configDocument = configJson is null ? null : Parse(configJson, configName ?? "tokenizer_config.json");
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw Error(jsonName, "$", "the file must hold a JSON object");
        JsonElement config = configDocument?.RootElement ?? default;
        if (configDocument is not null && config.ValueKind != JsonValueKind.Object)
            throw Error(configName!, "$", "the file must hold a JSON object");

        JsonElement model = Required(root, "model", JsonValueKind.Object, jsonName, "$");
        string modelType = OptionalString(model, "type", jsonName, "$.model") ?? (model.TryGetProperty("merges", out _) ? "BPE" : "");
        if (modelType != "BPE")
            throw new TokenizerFileException($"{jsonName}: $.model.type is '{modelType}'; only byte-level BPE tokenizers are supported");
        if (OptionalBool(model, "byte_fallback", jsonName, "$.model") == true)
            throw new TokenizerFileException($"{jsonName}: $.model.byte_fallback is true (a SentencePiece-style BPE); only byte-level BPE is supported");
        foreach (string affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (!string.IsNullOrEmpty(OptionalString(model, affix, jsonName, "$.model")))
                throw new TokenizerFileException($"{jsonName}: $.model.{affix} is set; subword affixes are not supported for byte-level BPE");
        }

        // Vocabulary.
        JsonElement vocab = Required(model, "vocab", JsonValueKind.Object, jsonName, "$.model");
        var byId = new Dictionary<int, string>();
        int maxId = -1;
        foreach (JsonProperty entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw Error(jsonName, "$.model.vocab", $"the id of '{entry.Name}' must be a non-negative integer, got {entry.Value.GetRawText()}");
            if (!byId.TryAdd(id, entry.Name))
                throw Error(jsonName, "$.model.vocab", $"tokens '{byId[id]}' and '{entry.Name}' share id {id}");
            maxId = Math.Max(maxId, id);
        }

        // Merges: "left right" strings (tokenizers < 0.20) or [left, right] pairs.
        JsonElement mergesElement = Required(model, "merges", JsonValueKind.Array, jsonName, "$.model");
        var merges = new List<(string, string)>(mergesElement.GetArrayLength());
        int index = 0;
        foreach (JsonElement merge in mergesElement.EnumerateArray())
        {
            merges.Add(ReadMerge(merge, jsonName, index));
            index++;
        }

        // Added tokens.
        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out JsonElement addedElement) && addedElement.ValueKind != JsonValueKind.Null)
        {
            if (addedElement.ValueKind != JsonValueKind.Array)
                throw Error(jsonName, "$.added_tokens", "must be an array");
            int i = 0;
            foreach (JsonElement token in addedElement.EnumerateArray())
            {
                string path = $"$.added_tokens[{i++}]";
                if (token.ValueKind != JsonValueKind.Object)
                    throw Error(jsonName, path, "must be an object");
                JsonElement idElement = Required(token, "id", JsonValueKind.Number, jsonName, path);
                if (!idElement.TryGetInt32(out int id) || id < 0)
                    throw Error(jsonName, path + ".id", $"must be a non-negative integer, got {idElement.GetRawText()}");
                string content = Required(token, "content", JsonValueKind.String, jsonName, path).GetString()!;
                if (content.Length == 0)
                    throw Error(jsonName, path + ".content", "must not be empty");
                added.Add(new AddedToken(id, content,
                    Special: OptionalBool(token, "special", jsonName, path) ?? false,
                    LStrip: OptionalBool(token, "lstrip", jsonName, path) ?? false,
                    RStrip: OptionalBool(token, "rstrip", jsonName, path) ?? false));
                maxId = Math.Max(maxId, id);
            }
        }

        // The id table is sized by the largest id, so a sparse id (one token numbered 2 billion) would allocate
        // gigabytes from a few bytes of JSON. Real vocabularies are dense; allow gaps, but not more ids than entries.
        long defined = byId.Count + added.Count;
        if (maxId >= 2 * defined + 1024)
            throw Error(jsonName, "$.model.vocab", $"ids run up to {maxId} but only {defined} tokens are defined; token ids must be (nearly) dense");
        var tokens = new string?[maxId + 1];
        foreach (var (id, text) in byId)
            tokens[id] = text;

        bool normalizeNfc = ReadNormalizer(root, jsonName);
        PreTokenizer preTokenizer = ReadPreTokenizer(root, jsonName);
        ReadDecoder(root, jsonName);
        var (templatePrefix, templateSuffix) = ReadPostProcessor(root, jsonName);

        // tokenizer_config.json: special tokens by name, BOS/EOS policy, chat template.
        var tokenToId = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (id, text) in byId)
            tokenToId[text] = id;
        foreach (AddedToken token in added)
            tokenToId[token.Content] = token.Id;

        string cfgName = configName ?? "tokenizer_config.json";
        int? bos = null, eos = null, pad = null;
        bool? addBos = null, addEos = null;
        string? chatTemplate = null;
        string? tokenizerClass = null;
        bool cleanUp = false;
        var extraSpecial = new List<int>();
        if (config.ValueKind == JsonValueKind.Object)
        {
            bos = SpecialTokenId(config, "bos_token", tokenToId, cfgName);
            eos = SpecialTokenId(config, "eos_token", tokenToId, cfgName);
            pad = SpecialTokenId(config, "pad_token", tokenToId, cfgName);
            addBos = OptionalBool(config, "add_bos_token", cfgName, "$");
            addEos = OptionalBool(config, "add_eos_token", cfgName, "$");
            cleanUp = OptionalBool(config, "clean_up_tokenization_spaces", cfgName, "$") ?? false;
            tokenizerClass = OptionalString(config, "tokenizer_class", cfgName, "$");
            chatTemplate = ReadChatTemplate(config, cfgName);
            if (config.TryGetProperty("additional_special_tokens", out JsonElement extra) && extra.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement item in extra.EnumerateArray())
                {
                    string? content = item.ValueKind == JsonValueKind.String ? item.GetString()
                        : item.ValueKind == JsonValueKind.Object && item.TryGetProperty("content", out JsonElement c) ? c.GetString() : null;
                    if (content is not null && tokenToId.TryGetValue(content, out int id))
                        extraSpecial.Add(id);
                }
            }
        }

        // Which ids addSpecialTokens adds. transformers' Llama tokenizer classes rebuild the post-processor from
        // add_bos_token/add_eos_token (BOS on by default), overriding tokenizer.json; other classes use the
        // tokenizer.json template, else the config flags. (transformers.js does neither for a ByteLevel
        // post-processor, so its encode() never adds BOS for DeepSeek-V3 — the Python library does.)
        int[] prefix, suffix;
        bool llamaClass = tokenizerClass is "LlamaTokenizerFast" or "LlamaTokenizer";
        if (!llamaClass && templatePrefix is not null)
        {
            prefix = templatePrefix;
            suffix = templateSuffix!;
        }
        else
        {
            bool wantBos = addBos ?? llamaClass;
            bool wantEos = addEos ?? false;
            if (wantBos && bos is null)
                throw Error(cfgName, "$.add_bos_token", "is true but no bos_token is defined");
            if (wantEos && eos is null)
                throw Error(cfgName, "$.add_eos_token", "is true but no eos_token is defined");
            prefix = wantBos ? [bos!.Value] : [];
            suffix = wantEos ? [eos!.Value] : [];
        }

        return new TokenizerParts
        {
            Source = jsonName,
            Tokens = tokens,
            Merges = merges,
            AddedTokens = added,
            PreTokenizer = preTokenizer,
            IgnoreMerges = OptionalBool(model, "ignore_merges", jsonName, "$.model") ?? false,
            NormalizeNfc = normalizeNfc,
            PrefixIds = prefix,
            SuffixIds = suffix,
            BosTokenId = bos,
            EosTokenId = eos,
            PadTokenId = pad,
            ExtraSpecialIds = extraSpecial,
            ChatTemplate = chatTemplate,
            CleanUpTokenizationSpaces = cleanUp,
        };
    }

    private static JsonDocument Parse(ReadOnlySpan<byte> json, string name)
    {
        try
        {
            return JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new TokenizerFileException($"{name} is not valid JSON: {e.Message}", e);
        }
    }

    private static (string, string) ReadMerge(JsonElement merge, string name, int index)
    {
        string path = $"$.model.merges[{index}]";
        if (merge.ValueKind == JsonValueKind.String)
        {
            string text = merge.GetString()!;
            int space = text.IndexOf(' ');
            if (space <= 0 || space == text.Length - 1 || text.IndexOf(' ', space + 1) >= 0)
                throw Error(name, path, $"'{text}' is not two tokens separated by one space");
            return (text[..space], text[(space + 1)..]);
        }
        if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
            && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
        {
            return (merge[0].GetString()!, merge[1].GetString()!);
        }
        throw Error(name, path, $"must be \"left right\" or [\"left\", \"right\"], got {merge.GetRawText()}");
    }

    private static bool ReadNormalizer(JsonElement root, string name)
    {
        if (!root.TryGetProperty("normalizer", out JsonElement normalizer) || normalizer.ValueKind == JsonValueKind.Null)
            return false;
        bool nfc = false;
        void Visit(JsonElement n, string path)
        {
            if (n.ValueKind != JsonValueKind.Object)
                throw Error(name, path, "must be an object");
            string type = Required(n, "type", JsonValueKind.String, name, path).GetString()!;
            switch (type)
            {
                case "Sequence":
                    int i = 0;
                    foreach (JsonElement child in Required(n, "normalizers", JsonValueKind.Array, name, path).EnumerateArray())
                        Visit(child, $"{path}.normalizers[{i++}]");
                    break;
                case "NFC":
                    if (!UnicodeNormalizationWorks)
                        throw new NotSupportedException(
                            $"{name}: the normalizer at {path} is NFC, but Unicode normalization is unavailable in this process " +
                            "(it runs with InvariantGlobalization, where string.Normalize does nothing); run with " +
                            "InvariantGlobalization=false and ICU installed, or load the model's GGUF vocabulary, which llama.cpp " +
                            "tokenizes without normalization");
                    nfc = true;
                    break;
                default:
                    throw new TokenizerFileException($"{name}: normalizer '{type}' at {path} is not supported (supported: NFC, Sequence)");
            }
        }
        Visit(normalizer, "$.normalizer");
        return nfc;
    }

    /// <summary>Whether string.Normalize really composes (it silently does nothing in invariant-globalization mode).</summary>
    internal static bool UnicodeNormalizationWorks { get; } = "e\u0301".Normalize(System.Text.NormalizationForm.FormC) == "\u00E9";

    private static PreTokenizer ReadPreTokenizer(JsonElement root, string name)
    {
        if (!root.TryGetProperty("pre_tokenizer", out JsonElement pre) || pre.ValueKind == JsonValueKind.Null)
            throw Error(name, "$.pre_tokenizer", "is missing; a byte-level BPE needs a ByteLevel pre-tokenizer");
        var patterns = new List<SplitPattern>();
        bool sawByteLevel = false;
        void Visit(JsonElement p, string path)
        {
            if (p.ValueKind != JsonValueKind.Object)
                throw Error(name, path, "must be an object");
            string type = Required(p, "type", JsonValueKind.String, name, path).GetString()!;
            if (sawByteLevel && type != "Sequence")
                throw Error(name, path, $"'{type}' comes after ByteLevel; splitting byte-level text is not supported");
            switch (type)
            {
                case "Sequence":
                    int i = 0;
                    foreach (JsonElement child in Required(p, "pretokenizers", JsonValueKind.Array, name, path).EnumerateArray())
                        Visit(child, $"{path}.pretokenizers[{i++}]");
                    break;
                case "Split":
                    patterns.Add(ReadSplit(p, name, path));
                    break;
                case "Digits":
                    patterns.Add(OptionalBool(p, "individual_digits", name, path) == true ? AsciiDigitPattern.Individual : AsciiDigitPattern.Runs);
                    break;
                case "ByteLevel":
                    if (OptionalBool(p, "add_prefix_space", name, path) == true)
                        throw Error(name, path + ".add_prefix_space", "is true; adding a prefix space is not supported");
                    if (OptionalBool(p, "use_regex", name, path) ?? true)
                        patterns.Add(Gpt2WordPattern.Instance);
                    sawByteLevel = true;
                    break;
                default:
                    throw new TokenizerFileException(
                        $"{name}: pre-tokenizer '{type}' at {path} is not supported (supported: Sequence, Split, Digits, ByteLevel)");
            }
        }
        Visit(pre, "$.pre_tokenizer");
        if (!sawByteLevel)
            throw Error(name, "$.pre_tokenizer", "has no ByteLevel step; only byte-level BPE tokenizers are supported");
        return PreTokenizer.FromPatterns(patterns);
    }

    private static SplitPattern ReadSplit(JsonElement split, string name, string path)
    {
        string behavior = OptionalString(split, "behavior", name, path) ?? "Isolated";
        if (behavior != "Isolated")
            throw Error(name, path + ".behavior", $"is '{behavior}'; only Isolated splits are supported");
        if (OptionalBool(split, "invert", name, path) == true)
            throw Error(name, path + ".invert", "is true; inverted splits are not supported");
        JsonElement pattern = Required(split, "pattern", JsonValueKind.Object, name, path);
        string? regex = pattern.TryGetProperty("Regex", out JsonElement r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
        if (regex is null)
            throw Error(name, path + ".pattern", "must be {\"Regex\": \"...\"}; string patterns are not supported");
        if (!KnownPatterns.TryGet(regex, out SplitPattern known))
            throw new TokenizerFileException(
                $"{name}: the Split regex at {path} is not one of the supported pre-tokenizer patterns " +
                $"(DeepSeek-V3, DeepSeek LLM, Llama 3, Qwen2, GPT-2): {regex}");
        return known;
    }

    private static void ReadDecoder(JsonElement root, string name)
    {
        if (!root.TryGetProperty("decoder", out JsonElement decoder) || decoder.ValueKind == JsonValueKind.Null)
            throw Error(name, "$.decoder", "is missing; a byte-level BPE needs a ByteLevel decoder");
        string type = Required(decoder, "type", JsonValueKind.String, name, "$.decoder").GetString()!;
        if (type == "Sequence")
        {
            var types = Required(decoder, "decoders", JsonValueKind.Array, name, "$.decoder").EnumerateArray()
                .Select(d => d.ValueKind == JsonValueKind.Object && d.TryGetProperty("type", out JsonElement t) ? t.GetString() : null)
                .ToArray();
            if (types.Length == 1 && types[0] == "ByteLevel")
                return;
            throw Error(name, "$.decoder", $"is a Sequence of [{string.Join(", ", types)}]; only a ByteLevel decoder is supported");
        }
        if (type != "ByteLevel")
            throw Error(name, "$.decoder.type", $"is '{type}'; only a ByteLevel decoder is supported");
    }

    /// <summary>The ids a TemplateProcessing post-processor puts around a single sequence; nulls when there is none.</summary>
    private static (int[]? Prefix, int[]? Suffix) ReadPostProcessor(JsonElement root, string name)
    {
        if (!root.TryGetProperty("post_processor", out JsonElement post) || post.ValueKind == JsonValueKind.Null)
            return (null, null);
        JsonElement? template = null;
        void Visit(JsonElement p, string path)
        {
            string type = Required(p, "type", JsonValueKind.String, name, path).GetString()!;
            switch (type)
            {
                case "Sequence":
                    int i = 0;
                    foreach (JsonElement child in Required(p, "processors", JsonValueKind.Array, name, path).EnumerateArray())
                        Visit(child, $"{path}.processors[{i++}]");
                    break;
                case "ByteLevel":
                    break;
                case "TemplateProcessing":
                    template = p;
                    break;
                default:
                    throw new TokenizerFileException($"{name}: post-processor '{type}' at {path} is not supported (supported: ByteLevel, TemplateProcessing, Sequence)");
            }
        }
        Visit(post, "$.post_processor");
        if (template is not JsonElement t)
            return (null, null);

        var specialIds = new Dictionary<string, int[]>(StringComparer.Ordinal);
        if (t.TryGetProperty("special_tokens", out JsonElement specials) && specials.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty special in specials.EnumerateObject())
            {
                JsonElement ids = Required(special.Value, "ids", JsonValueKind.Array, name, "$.post_processor.special_tokens." + special.Name);
                string idsPath = "$.post_processor.special_tokens." + special.Name + ".ids";
                specialIds[special.Name] = ids.EnumerateArray()
                    .Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int id) && id >= 0
                        ? id : throw Error(name, idsPath, $"must hold non-negative integers, got {e.GetRawText()}"))
                    .ToArray();
            }
        }
        var prefix = new List<int>();
        var suffix = new List<int>();
        bool seenSequence = false;
        foreach (JsonElement piece in Required(t, "single", JsonValueKind.Array, name, "$.post_processor").EnumerateArray())
        {
            if (piece.ValueKind != JsonValueKind.Object)
                throw Error(name, "$.post_processor.single", $"has an item that is not an object: {piece.GetRawText()}");
            if (piece.TryGetProperty("Sequence", out _))
            {
                seenSequence = true;
                continue;
            }
            if (!piece.TryGetProperty("SpecialToken", out JsonElement special))
                throw Error(name, "$.post_processor.single", $"has an unknown item {piece.GetRawText()}");
            string specialName = Required(special, "id", JsonValueKind.String, name, "$.post_processor.single").GetString()!;
            if (!specialIds.TryGetValue(specialName, out int[]? ids))
                throw Error(name, "$.post_processor.single", $"uses special token '{specialName}', which special_tokens does not define");
            (seenSequence ? suffix : prefix).AddRange(ids);
        }
        return (prefix.ToArray(), suffix.ToArray());
    }

    private static string? ReadChatTemplate(JsonElement config, string name)
    {
        if (!config.TryGetProperty("chat_template", out JsonElement template) || template.ValueKind == JsonValueKind.Null)
            return null;
        if (template.ValueKind == JsonValueKind.String)
            return template.GetString();
        if (template.ValueKind == JsonValueKind.Array)
        {
            // A list of named templates: use "default".
            foreach (JsonElement item in template.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("name", out JsonElement n) && n.GetString() == "default"
                    && item.TryGetProperty("template", out JsonElement t) && t.ValueKind == JsonValueKind.String)
                    return t.GetString();
            }
            return null;
        }
        throw Error(name, "$.chat_template", "must be a string or a list of {name, template}");
    }

    /// <summary>A special token named in the config ("bos_token": "..." or {"content": "..."}), resolved to its id.</summary>
    private static int? SpecialTokenId(JsonElement config, string key, Dictionary<string, int> tokenToId, string name)
    {
        if (!config.TryGetProperty(key, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
            return null;
        string? content = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object when value.TryGetProperty("content", out JsonElement c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => throw Error(name, "$." + key, $"must be a string or an object with \"content\", got {value.GetRawText()}"),
        };
        if (content is null)
            return null;
        if (!tokenToId.TryGetValue(content, out int id))
            throw Error(name, "$." + key, $"names '{content}', which is not a token of tokenizer.json");
        return id;
    }

    private static JsonElement Required(JsonElement parent, string property, JsonValueKind kind, string name, string path)
    {
        if (parent.ValueKind != JsonValueKind.Object)
            throw Error(name, path, "must be an object");
        if (!parent.TryGetProperty(property, out JsonElement value))
            throw Error(name, $"{path}.{property}", "is missing");
        if (value.ValueKind != kind)
            throw Error(name, $"{path}.{property}", $"must be {Describe(kind)}, got {Describe(value.ValueKind)}");
        return value;
    }

    private static string? OptionalString(JsonElement parent, string property, string name, string path)
    {
        if (!parent.TryGetProperty(property, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
            return null;
        if (value.ValueKind != JsonValueKind.String)
            throw Error(name, $"{path}.{property}", $"must be a string, got {Describe(value.ValueKind)}");
        return value.GetString();
    }

    private static bool? OptionalBool(JsonElement parent, string property, string name, string path)
    {
        if (!parent.TryGetProperty(property, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
            return null;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error(name, $"{path}.{property}", $"must be true or false, got {value.GetRawText()}"),
        };
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };

    private static TokenizerFileException Error(string name, string path, string problem) => new($"{name}: {path} {problem}");
}

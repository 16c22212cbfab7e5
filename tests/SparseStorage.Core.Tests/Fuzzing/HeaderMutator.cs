using System.Buffers.Binary;
using System.Text;

namespace SparseStorage.Core.Tests.Fuzzing;

/// <summary>
/// Makes crafted inputs from the corpus, deterministically: a sweep that writes each interesting value into every
/// aligned 4- and 8-byte field of an image's header regions, and random mutations from a seeded generator (bit flips,
/// interesting values, random bytes, truncation, LUKS2 JSON tokens replaced), stacked one to three at a time.
/// </summary>
public sealed class HeaderMutator(int seed = HeaderMutator.DefaultSeed)
{
    /// <summary>The seed of the tests' runs (issue 16).</summary>
    public const int DefaultSeed = 16;

    private static readonly uint[] Interesting32 = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFF8, 9, 22, 64, 4096];
    private static readonly uint[] Extreme32 = [0, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF];
    private static readonly ulong[] Extreme64 = [0x7FFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF];
    private static readonly ulong[] Interesting64 = [0, 1, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFF, 1UL << 40];
    private static readonly string[] JsonTokens =
    [
        "\"-1\"", "\"18446744073709551615\"", "\"99999999999999999999999\"", "\"abc\"", "\"\"", "{}", "[]", "null", "1e400",
        "-1", "\"0\"", "\"512\"", "\"4096\"", "true", "\"\\u0000\"", "{\"0\":{}}", new string('[', 200), "\"\xff\"",
    ];

    private readonly Random random = new(seed);

    /// <summary>
    /// Extreme values in every aligned 4- and 8-byte field of each image's header regions, taking the images in turn
    /// so that a run cut short by its time budget has still swept the start of every image.
    /// </summary>
    public static IEnumerable<HeaderMutation> Sweep(IReadOnlyList<CorpusImage> corpus)
    {
        var sweeps = corpus.Select(image => Sweep(image).GetEnumerator()).ToList();
        while (sweeps.Count > 0)
        {
            foreach (var sweep in sweeps.ToList())
            {
                if (sweep.MoveNext())
                    yield return sweep.Current;
                else
                    sweeps.Remove(sweep);
            }
        }
    }

    private static IEnumerable<HeaderMutation> Sweep(CorpusImage image)
    {
        foreach (var region in image.HotRegions.Where(r => r.Name != "LUKS2 JSON"))
        {
            for (var offset = region.Start; offset + 4 <= region.End; offset += 4)
            {
                foreach (var value in Extreme32)
                    yield return Field(image, region, offset, 4, value);
                if (offset % 8 == 0 && offset + 8 <= region.End)
                    foreach (var value in Extreme64)
                        yield return Field(image, region, offset, 8, value);
            }
        }
    }

    /// <summary>One to three random mutations of a random corpus image.</summary>
    public HeaderMutation Next(IReadOnlyList<CorpusImage> corpus)
    {
        var image = corpus[random.Next(corpus.Count)];
        var patches = new List<BytePatch>();
        var descriptions = new List<string>();
        long? length = null;
        for (var count = 1 + random.Next(3); count > 0; count--)
        {
            var choice = random.Next(100);
            if (choice < 8)
            {
                length = CutLength(image);
                descriptions.Add($"cut to {length} bytes");
                continue;
            }
            var (patch, description) = choice switch
            {
                < 35 => BitFlips(image),
                < 70 => Value(image),
                < 85 => RandomBytes(image),
                _ => image.HotRegions.FirstOrDefault(r => r.Name == "LUKS2 JSON") is { } json ? JsonToken(image, json) : Value(image),
            };
            patches.Add(patch);
            descriptions.Add(description);
        }
        return new HeaderMutation(image, string.Join("; ", descriptions), patches, length);
    }

    private static HeaderMutation Field(CorpusImage image, FieldRegion region, int offset, int width, ulong value)
    {
        var bytes = Encode(value, width, region.BigEndian);
        return new HeaderMutation(image, $"{region.Name}: {width}-byte field at {offset} = 0x{value:X}", [new BytePatch(offset, bytes)]);
    }

    private static byte[] Encode(ulong value, int width, bool bigEndian)
    {
        var bytes = new byte[width];
        if (width == 4 && bigEndian) BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)value);
        else if (width == 4) BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)value);
        else if (bigEndian) BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        else BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return bytes;
    }

    /// <summary>Mostly inside a hot region; sometimes anywhere in the data, or anywhere in the file.</summary>
    private long Offset(CorpusImage image, int width)
    {
        var choice = random.Next(100);
        if (choice < 80)
        {
            var region = image.HotRegions[random.Next(image.HotRegions.Count)];
            return region.Start + random.Next(Math.Max(1, region.Length - width + 1));
        }
        var end = choice < 95 ? Math.Max(image.DataEnd, 1) : image.Bytes.Length;
        return random.NextInt64(Math.Max(1, end - width + 1));
    }

    private (BytePatch, string) BitFlips(CorpusImage image)
    {
        var offset = Offset(image, 1);
        var mask = (byte)(1 << random.Next(8) | (random.Next(4) == 0 ? 1 << random.Next(8) : 0));
        var original = offset < image.Bytes.Length ? image.Bytes[offset] : (byte)0;
        return (new BytePatch(offset, [(byte)(original ^ mask)]), $"flip 0x{mask:X2} at {offset}");
    }

    private (BytePatch, string) Value(CorpusImage image)
    {
        var width = random.Next(3) switch { 0 => 2, 1 => 4, _ => 8 };
        var offset = Offset(image, width) / width * width;
        var value = width == 8 ? Interesting64[random.Next(Interesting64.Length)] : Interesting32[random.Next(Interesting32.Length)];
        if (width == 2)
            value = random.Next(2) == 0 ? 0xFFFF : value & 0xFFFF;
        var bigEndian = random.Next(4) != 0;
        var bytes = width == 2
            ? (bigEndian ? [(byte)(value >> 8), (byte)value] : [(byte)value, (byte)(value >> 8)])
            : Encode(value, width, bigEndian);
        return (new BytePatch(offset, bytes), $"{width}-byte {(bigEndian ? "BE" : "LE")} 0x{value:X} at {offset}");
    }

    private (BytePatch, string) RandomBytes(CorpusImage image)
    {
        var bytes = new byte[1 + random.Next(16)];
        random.NextBytes(bytes);
        var offset = Offset(image, bytes.Length);
        return (new BytePatch(offset, bytes), $"{bytes.Length} random bytes {Convert.ToHexString(bytes)} at {offset}");
    }

    private long CutLength(CorpusImage image) =>
        random.Next(3) switch
        {
            0 => random.Next(Math.Min(image.Bytes.Length, 4096) + 1),
            1 => random.Next(Math.Max(image.DataEnd, 1) + 1),
            _ => random.NextInt64(image.Bytes.Length + 1),
        };

    /// <summary>Replaces one JSON value or key of the LUKS2 metadata with a token that breaks a rule.</summary>
    private (BytePatch, string) JsonToken(CorpusImage image, FieldRegion area)
    {
        var text = Encoding.UTF8.GetString(image.Bytes, area.Start, Array.IndexOf(image.Bytes, (byte)0, area.Start) - area.Start);
        var tokens = JsonTokenSpans(text);
        var (start, length) = tokens[random.Next(tokens.Count)];
        var token = JsonTokens[random.Next(JsonTokens.Length)];
        // "\xff" stands for a byte that is not UTF-8 at all.
        var tokenBytes = token == "\"\xff\"" ? [(byte)'"', 0xFF, (byte)'"'] : Encoding.UTF8.GetBytes(token);
        byte[] encoded = [.. Encoding.UTF8.GetBytes(text[..start]), .. tokenBytes, .. Encoding.UTF8.GetBytes(text[(start + length)..])];
        var bytes = new byte[Math.Min(area.Length, Math.Max(encoded.Length, text.Length))];
        encoded.AsSpan(0, Math.Min(encoded.Length, bytes.Length)).CopyTo(bytes);
        return (new BytePatch(area.Start, bytes), $"JSON {text.Substring(start, length)} at {start} -> {token[..Math.Min(token.Length, 24)]}");
    }

    /// <summary>Where each string literal and bare value of the JSON text starts and how long it is.</summary>
    private static List<(int Start, int Length)> JsonTokenSpans(string text)
    {
        var spans = new List<(int, int)>();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '"')
            {
                var end = text.IndexOf('"', i + 1);
                spans.Add((i, end - i + 1));
                i = end;
            }
            else if (char.IsAsciiDigit(text[i]) || text[i] is 't' or 'f' or 'n')
            {
                var end = i;
                while (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] is '.' or '-'))
                    end++;
                spans.Add((i, end - i));
                i = end - 1;
            }
        }
        return spans;
    }
}

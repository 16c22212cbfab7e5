using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SparseStorage.Core.Formats;

/// <summary>
/// The primary LUKS2 header: a 4 KiB binary header, then JSON metadata up to hdr_size (cryptsetup docs: LUKS2
/// On-Disk Format). The JSON is read with explicit checks of every value used; no JSON, UTF-8 or number error
/// escapes as anything but an <see cref="InvalidDataException"/>.
/// </summary>
internal static class Luks2Metadata
{
    private const int BinaryHeaderLength = 4096;
    private const ulong MinHeaderSize = 16 * 1024;
    private const ulong MaxHeaderSize = 4 * 1024 * 1024;
    private const int MaxKeySlots = 32; // LUKS2_KEYSLOTS_MAX
    private const int Sector = 512;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static LuksHeader Parse(ReadOnlySpan<byte> data)
    {
        HeaderField.Require(data.Length >= BinaryHeaderLength, $"LUKS2 header is cut short ({data.Length} of {BinaryHeaderLength} bytes)");
        var headerSize = HeaderField.InRange("LUKS2 header size", BinaryPrimitives.ReadUInt64BigEndian(data[8..]), MinHeaderSize, MaxHeaderSize);
        HeaderField.Require(ulong.IsPow2(headerSize), $"LUKS2 header size {headerSize} is not a power of two");
        HeaderField.InRange("LUKS2 header offset", BinaryPrimitives.ReadUInt64BigEndian(data[256..]), 0, 0);
        using var document = ParseJson(JsonArea(data, (int)headerSize));
        var root = Object(document.RootElement, "LUKS2 metadata");
        var segment = DataSegment(Object(Member(root, "segments"), "LUKS2 segments"));
        var payloadOffset = (long)HeaderField.InRange("LUKS2 segment offset", Number(Member(segment, "offset"), "LUKS2 segment offset"), 2 * headerSize, long.MaxValue);
        HeaderField.Require(payloadOffset % Sector == 0, $"LUKS2 segment offset {payloadOffset} is not a multiple of {Sector}");
        var keySlots = KeySlotCount(Object(Member(root, "keyslots"), "LUKS2 keyslots"), 2 * headerSize, (ulong)payloadOffset);
        var cipher = Text(Member(segment, "encryption"), "LUKS2 segment encryption");
        return new LuksHeader(2, LuksHeader.Text(data.Slice(168, 40)), cipher, keySlots, payloadOffset);
    }

    /// <summary>The JSON text: from 4 KiB to its terminating NUL, which must lie inside hdr_size and the bytes read.</summary>
    private static string JsonArea(ReadOnlySpan<byte> data, int headerSize)
    {
        var area = data[BinaryHeaderLength..Math.Min(headerSize, data.Length)];
        var end = area.IndexOf((byte)0);
        HeaderField.Require(end >= 0 || headerSize <= data.Length, $"LUKS2 JSON area runs past the {data.Length} bytes read");
        try
        {
            return StrictUtf8.GetString(end < 0 ? area : area[..end]);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException("LUKS2 JSON metadata is not valid UTF-8");
        }
    }

    private static JsonDocument ParseJson(string json)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"LUKS2 JSON metadata is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>The data segment with the lowest id (cryptsetup keys segments by decimal ids).</summary>
    private static JsonElement DataSegment(JsonElement segments)
    {
        JsonElement? found = null;
        var lowest = ulong.MaxValue;
        foreach (var segment in segments.EnumerateObject())
        {
            var id = Id(segment.Name, "LUKS2 segment id");
            if (id < lowest)
                (lowest, found) = (id, Object(segment.Value, $"LUKS2 segment {segment.Name}"));
        }
        return found ?? throw new InvalidDataException("LUKS2 metadata has no segment");
    }

    /// <summary>Counts key slots; each one's area must lie after both headers and before the payload.</summary>
    private static int KeySlotCount(JsonElement keySlots, ulong areaStart, ulong payloadOffset)
    {
        var count = 0;
        foreach (var slot in keySlots.EnumerateObject())
        {
            var field = $"LUKS2 keyslot {slot.Name}";
            HeaderField.InRange($"{field} id", Id(slot.Name, $"{field} id"), 0, MaxKeySlots - 1);
            var area = Object(Member(Object(slot.Value, field), "area"), $"{field} area");
            var offset = HeaderField.InRange($"{field} area offset", Number(Member(area, "offset"), $"{field} area offset"), areaStart, payloadOffset);
            HeaderField.InRange($"{field} area size", Number(Member(area, "size"), $"{field} area size"), 0, payloadOffset - offset);
            count++;
        }
        return count;
    }

    private static JsonElement Member(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value : throw new InvalidDataException($"LUKS2 metadata lacks \"{name}\"");

    private static JsonElement Object(JsonElement element, string field) =>
        element.ValueKind == JsonValueKind.Object ? element : throw new InvalidDataException($"{field} is not a JSON object");

    private static string Text(JsonElement element, string field) =>
        element.ValueKind == JsonValueKind.String && element.GetString() is { Length: > 0 } text
            ? text
            : throw new InvalidDataException($"{field} is not a non-empty string");

    /// <summary>A 64-bit number, which LUKS2 writes as a decimal string.</summary>
    private static ulong Number(JsonElement element, string field) =>
        element.ValueKind == JsonValueKind.String
        && ulong.TryParse(element.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new InvalidDataException($"{field} is not a decimal number string");

    private static ulong Id(string name, string field) =>
        ulong.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            ? id
            : throw new InvalidDataException($"{field} \"{name}\" is not a decimal number");
}

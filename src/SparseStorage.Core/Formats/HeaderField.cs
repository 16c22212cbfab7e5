using System.Text;

namespace SparseStorage.Core.Formats;

/// <summary>
/// Checks for fields read from headers a tenant may have written: every violation is an
/// <see cref="InvalidDataException"/> whose message names the field, so a caller can mark that one file broken.
/// </summary>
internal static class HeaderField
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static ulong InRange(string field, ulong value, ulong min, ulong max) =>
        value >= min && value <= max ? value : throw new InvalidDataException($"{field} {value} is out of range {min}..{max}");

    public static void Require(bool condition, string message)
    {
        if (!condition)
            throw new InvalidDataException(message);
    }

    /// <summary>The bytes [offset, offset + length) of <paramref name="data"/>, or an error naming <paramref name="field"/>.</summary>
    public static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> data, ulong offset, ulong length, string field) =>
        offset <= (ulong)data.Length && length <= (ulong)data.Length - offset
            ? data.Slice((int)offset, (int)length)
            : throw new InvalidDataException($"{field} (offset {offset}, {length} bytes) lies beyond the {data.Length} bytes read");

    /// <summary>
    /// A file or format name: strict UTF-8 without NUL bytes. qemu cuts names at the first NUL, so a name with one
    /// would mean one file to the module and another to qemu.
    /// </summary>
    public static string Name(ReadOnlySpan<byte> bytes, string field)
    {
        Require(!bytes.Contains((byte)0), $"{field} contains a NUL byte");
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException($"{field} is not valid UTF-8");
        }
    }
}

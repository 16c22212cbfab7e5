using System.Buffers.Binary;
using System.Globalization;

namespace SparseStorage.Core.Aoe;

/// <summary>A 48-bit Ethernet address, written the way `ip link` shows it (aa:bb:cc:dd:ee:ff).</summary>
public readonly record struct MacAddress(ulong Value)
{
    public const int Length = 6;
    public static MacAddress Broadcast { get; } = new(0xFFFF_FFFF_FFFF);

    public static MacAddress Read(ReadOnlySpan<byte> bytes)
    {
        Span<byte> wide = stackalloc byte[8];
        wide.Clear();
        bytes[..Length].CopyTo(wide[2..]);
        return new MacAddress(BinaryPrimitives.ReadUInt64BigEndian(wide));
    }

    public void Write(Span<byte> destination)
    {
        Span<byte> wide = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(wide, Value);
        wide[2..].CopyTo(destination);
    }

    /// <summary>Accepts 12 hex digits, with or without ':' or '-' between the bytes (the forms vblade's -m accepts, and Windows').</summary>
    public static bool TryParse(string? text, out MacAddress address)
    {
        address = default;
        var digits = (text ?? "").Replace(":", "").Replace("-", "");
        if (digits.Length != 12 || !ulong.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
            return false;
        address = new MacAddress(value);
        return true;
    }

    public static MacAddress Parse(string text) =>
        TryParse(text, out var address) ? address
            : throw new InvalidStorageArgumentException("InvalidMacAddress", $"'{text}' is not a MAC address (12 hex digits, e.g. 52:54:00:12:34:56).", text);

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Length];
        Write(bytes);
        return string.Join(':', bytes.ToArray().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
    }
}

using System.Globalization;
using System.Text.RegularExpressions;

namespace SparseStorage.Core;

/// <summary>
/// A number of bytes. Parses "10GB", "10GiB", "1.5T", "512M" and plain numbers; every unit is binary
/// (1 KB = 1024 bytes), as in PowerShell's numeric literals, so <c>-Size 10GB</c> and <c>-Size '10GB'</c> agree.
/// </summary>
public readonly partial record struct ByteSize(long Bytes) : IComparable<ByteSize>, IFormattable
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

    public static ByteSize Zero => new(0);
    public static ByteSize FromMiB(long mib) => new(checked(mib * 1024 * 1024));
    public static ByteSize FromGiB(long gib) => new(checked(gib * 1024 * 1024 * 1024));

    [GeneratedRegex(@"^(?<number>[0-9]+(\.[0-9]+)?|\.[0-9]+)\s*(?<unit>[KMGTPE]?)(?<binary>i?)(?<b>B?)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SizePattern();

    /// <summary>Parses a size; the message of the <see cref="InvalidStorageArgumentException"/> names the bad text.</summary>
    public static ByteSize Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        if (trimmed.StartsWith('-'))
            throw Invalid(text, "a size cannot be negative");
        var match = SizePattern().Match(trimmed);
        if (!match.Success || (match.Groups["binary"].Length > 0 && match.Groups["unit"].Length == 0))
            throw Invalid(text, "expected a number with an optional unit B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB or P/PB/PiB");
        var number = decimal.Parse(match.Groups["number"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
        var exponent = "BKMGTPE".IndexOf(char.ToUpperInvariant(match.Groups["unit"].Value.FirstOrDefault('B')));
        try
        {
            var bytes = decimal.Floor(number * Power(exponent));
            if (bytes > long.MaxValue)
                throw Invalid(text, "it is larger than the largest size (8 EiB)");
            return new ByteSize((long)bytes);
        }
        catch (OverflowException)
        {
            throw Invalid(text, "it is larger than the largest size (8 EiB)");
        }
    }

    /// <summary>Accepts what PowerShell may bind: a ByteSize, an integer, a whole double, or text.</summary>
    public static ByteSize From(object value) => value switch
    {
        ByteSize size => size,
        string text => Parse(text),
        long or int or short or sbyte or byte or ushort or uint => FromInteger(Convert.ToInt64(value, CultureInfo.InvariantCulture), value),
        ulong big => big <= long.MaxValue ? new ByteSize((long)big) : throw Invalid(value, "it is larger than the largest size (8 EiB)"),
        double or float => FromReal(Convert.ToDouble(value, CultureInfo.InvariantCulture), value),
        decimal exact => FromReal((double)exact, value),
        _ => throw Invalid(value, $"a {value.GetType().Name} is not a size"),
    };

    /// <summary>A signed change of size: "+10GB", "-5GiB", or a number (-5GB in PowerShell arrives as a negative long).</summary>
    public static long ParseDelta(object value)
    {
        if (value is string text && text.Trim() is { Length: > 0 } trimmed && (trimmed[0] == '-' || trimmed[0] == '+'))
        {
            var magnitude = Parse(trimmed[1..]).Bytes;
            return trimmed[0] == '-' ? -magnitude : magnitude;
        }
        return value switch
        {
            long or int or short or sbyte when Convert.ToInt64(value, CultureInfo.InvariantCulture) is var signed and < 0 => signed,
            double real when real < 0 => -From(-real).Bytes,
            _ => From(value).Bytes,
        };
    }

    /// <summary>Throws unless the size is greater than zero; <paramref name="what"/> names the parameter in the message.</summary>
    public ByteSize RequirePositive(string what) =>
        Bytes > 0 ? this : throw new InvalidStorageArgumentException("InvalidSize", $"{what} must be greater than zero, not {this}.", this);

    /// <summary>Rounds up to a multiple; a size too close to 8 EiB to round is refused as SizeOverflow, not an OverflowException.</summary>
    public ByteSize RoundUpTo(long multiple) =>
        Bytes <= long.MaxValue - (multiple - 1)
            ? new((Bytes + multiple - 1) / multiple * multiple)
            : throw TooLarge($"{Bytes} bytes rounded up to whole {Format(multiple)}");

    /// <summary>A sum of sizes or of a size and a signed change, refused as SizeOverflow where it leaves the range of a long.</summary>
    public static long Add(long size, long change, string what)
    {
        try
        {
            return checked(size + change);
        }
        catch (OverflowException)
        {
            throw TooLarge($"{what} ({size} {(change < 0 ? "-" : "+")} {Math.Abs((decimal)change)} bytes)");
        }
    }

    private static InvalidStorageArgumentException TooLarge(string what) =>
        new("SizeOverflow", $"{what} is beyond the largest size (8 EiB); choose a smaller size.", what);

    public int CompareTo(ByteSize other) => Bytes.CompareTo(other.Bytes);
    public static bool operator <(ByteSize a, ByteSize b) => a.Bytes < b.Bytes;
    public static bool operator >(ByteSize a, ByteSize b) => a.Bytes > b.Bytes;
    public static bool operator <=(ByteSize a, ByteSize b) => a.Bytes <= b.Bytes;
    public static bool operator >=(ByteSize a, ByteSize b) => a.Bytes >= b.Bytes;
    public static ByteSize operator +(ByteSize a, ByteSize b) => new(checked(a.Bytes + b.Bytes));
    public static ByteSize operator -(ByteSize a, ByteSize b) => new(checked(a.Bytes - b.Bytes));
    public static implicit operator long(ByteSize size) => size.Bytes;

    /// <summary>Formats with the largest binary unit that keeps the number at least 1, up to two decimals: "1.5 GiB".</summary>
    public static string Format(long bytes)
    {
        var unit = 0;
        var value = (decimal)Math.Abs(bytes);
        while (value >= 1024 && unit < Units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        var sign = bytes < 0 ? "-" : "";
        return unit == 0
            ? $"{sign}{bytes.ToString(CultureInfo.InvariantCulture).TrimStart('-')} B"
            : $"{sign}{Math.Round(value, 2, MidpointRounding.AwayFromZero).ToString("0.##", CultureInfo.InvariantCulture)} {Units[unit]}";
    }

    public override string ToString() => Format(Bytes);

    /// <summary>"G" (or none): as <see cref="ToString()"/>, "1.5 GiB"; "D": with the exact count, "1.5 GiB (1610612736 bytes)".</summary>
    public string ToString(string? format, IFormatProvider? formatProvider) => format switch
    {
        null or "" or "G" => Format(Bytes),
        "D" => $"{Format(Bytes)} ({Bytes.ToString(CultureInfo.InvariantCulture)} bytes)",
        _ => throw new FormatException($"'{format}' is not a ByteSize format: use G (\"1.5 GiB\") or D (\"1.5 GiB (1610612736 bytes)\")."),
    };

    private static decimal Power(int exponent)
    {
        decimal result = 1;
        for (var i = 0; i < exponent; i++)
            result *= 1024;
        return result;
    }

    private static ByteSize FromInteger(long bytes, object original) =>
        bytes >= 0 ? new ByteSize(bytes) : throw Invalid(original, "a size cannot be negative");

    private static ByteSize FromReal(double value, object original)
    {
        if (value < 0)
            throw Invalid(original, "a size cannot be negative");
        if (value != Math.Floor(value))
            throw Invalid(original, "a size in bytes must be a whole number");
        return value < long.MaxValue ? new ByteSize((long)value) : throw Invalid(original, "it is larger than the largest size (8 EiB)");
    }

    private static InvalidStorageArgumentException Invalid(object text, string why) =>
        new("InvalidSize", $"'{Convert.ToString(text, CultureInfo.InvariantCulture)}' is not a valid size: {why}.", text);
}

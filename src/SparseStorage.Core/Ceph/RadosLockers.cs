using System.Text;

namespace SparseStorage.Core.Ceph;

/// <summary>One holder of a RADOS lock as <c>rados_list_lockers</c> reports it: the client ("client.4123"), the cookie it locked with, and its address.</summary>
public sealed record RadosLocker(string Client, string Cookie, string Address)
{
    /// <summary>
    /// The host a mount lock names: its cookie carries the holder (<see cref="RbdMountLock.CookieFor"/>); a lock taken
    /// with another cookie is named by its client and address.
    /// </summary>
    public string Holder => RbdMountLock.HolderIn(Cookie) ?? $"{Client} at {Address}";
}

/// <summary>
/// Reads what <c>rados_list_lockers</c> wrote: three buffers of NUL-terminated strings (clients, cookies, addresses),
/// one string per locker in each. The strings come from the cluster, written there by any client with access to the
/// pool, so they are treated as hostile: a count or a buffer that does not agree is refused, lengths are capped, and
/// control characters (terminal escapes) are replaced before the text can reach a screen.
/// </summary>
public static class RadosLockers
{
    /// <summary>An exclusive lock has one locker; a shared one may have a few. More is not a mount lock.</summary>
    public const int MaxLockers = 64;

    /// <summary>The longest string kept of a client, cookie or address; the rest is cut.</summary>
    public const int MaxTextLength = 512;

    /// <summary>The lockers <paramref name="count"/> announces, read from the used part of each buffer.</summary>
    /// <exception cref="InvalidDataException">The count is out of range, or a buffer holds fewer strings than it says.</exception>
    public static IReadOnlyList<RadosLocker> Parse(long count, ReadOnlySpan<byte> clients, ReadOnlySpan<byte> cookies, ReadOnlySpan<byte> addresses)
    {
        if (count is < 0 or > MaxLockers)
            throw new InvalidDataException($"rados_list_lockers reported {count} lockers (0 to {MaxLockers} expected).");
        var clientTexts = Strings(clients, (int)count, "clients");
        var cookieTexts = Strings(cookies, (int)count, "cookies");
        var addressTexts = Strings(addresses, (int)count, "addresses");
        return Enumerable.Range(0, (int)count).Select(i => new RadosLocker(clientTexts[i], cookieTexts[i], addressTexts[i])).ToList();
    }

    /// <summary>The first <paramref name="count"/> NUL-terminated strings of <paramref name="buffer"/>.</summary>
    private static List<string> Strings(ReadOnlySpan<byte> buffer, int count, string what)
    {
        var strings = new List<string>(count);
        var rest = buffer;
        while (strings.Count < count)
        {
            var end = rest.IndexOf((byte)0);
            if (end < 0)
                throw new InvalidDataException($"rados_list_lockers announced {count} lockers but its {what} buffer ends after {strings.Count}.");
            strings.Add(Printable(rest[..end]));
            rest = rest[(end + 1)..];
        }
        return strings;
    }

    /// <summary>
    /// UTF-8 text (invalid sequences replaced), control and format characters (terminal escapes, bidirectional
    /// overrides) replaced by '?', cut at <see cref="MaxTextLength"/>.
    /// </summary>
    public static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = Encoding.UTF8.GetString(bytes.Length > MaxTextLength * 4 ? bytes[..(MaxTextLength * 4)] : bytes);
        var builder = new StringBuilder(Math.Min(text.Length, MaxTextLength));
        foreach (var rune in text.EnumerateRunes())
        {
            if (builder.Length >= MaxTextLength)
                break;
            builder.Append(Rune.IsControl(rune) || Rune.GetUnicodeCategory(rune) == System.Globalization.UnicodeCategory.Format ? "?" : rune.ToString());
        }
        return builder.ToString();
    }
}

using System.Globalization;

namespace SparseStorage.Core.Aoe;

/// <summary>
/// vblade's arguments: `vblade [-b bufcnt] [-o offset] [-l length] [-d] [-s] [-r] [-m mac[,mac...]] shelf slot netif filename`
/// (vblade(8)); built for an export, and read back from /proc/PID/cmdline to recognise a vblade started by hand.
/// </summary>
public sealed record VbladeCommandLine(int Shelf, int Slot, string Interface, string File)
{
    private const string OptionsWithValue = "bolm";
    private const string Switches = "dsr";

    public bool ReadOnly { get; init; }
    public bool Direct { get; init; }
    public bool Sync { get; init; }
    public IReadOnlyList<string> MacAllow { get; init; } = [];

    public IReadOnlyList<string> Arguments()
    {
        var arguments = new List<string>();
        if (ReadOnly)
            arguments.Add("-r");
        if (Direct)
            arguments.Add("-d");
        if (Sync)
            arguments.Add("-s");
        if (MacAllow.Count > 0)
            arguments.AddRange(["-m", string.Join(',', MacAllow)]);
        arguments.AddRange([Number(Shelf), Number(Slot), Interface, File]);
        return arguments;
    }

    /// <summary>Reads a vblade argv (program name first) with getopt's rules; null when it is not a runnable vblade command.</summary>
    public static VbladeCommandLine? TryParse(IReadOnlyList<string> argv)
    {
        if (argv.Count == 0 || Path.GetFileName(argv[0]) != "vblade")
            return null;
        var switches = new HashSet<char>();
        var values = new Dictionary<char, string>();
        var index = 1;
        for (; index < argv.Count && argv[index].Length > 1 && argv[index][0] == '-'; index++)
        {
            if (argv[index] == "--")
            {
                index++;
                break;
            }
            if (!ReadCluster(argv, ref index, switches, values))
                return null;
        }
        var positional = argv.Skip(index).ToList();
        if (positional.Count != 4 || !TryNumber(positional[0], out var shelf) || !TryNumber(positional[1], out var slot))
            return null;
        return new VbladeCommandLine(shelf, slot, positional[2], positional[3])
        {
            ReadOnly = switches.Contains('r'),
            Direct = switches.Contains('d'),
            Sync = switches.Contains('s'),
            MacAllow = values.TryGetValue('m', out var macs) ? macs.Split(',', StringSplitOptions.RemoveEmptyEntries) : [],
        };
    }

    /// <summary>One argument of options, e.g. "-rs", "-b16" or "-m" followed by its value.</summary>
    private static bool ReadCluster(IReadOnlyList<string> argv, ref int index, HashSet<char> switches, Dictionary<char, string> values)
    {
        var cluster = argv[index];
        for (var at = 1; at < cluster.Length; at++)
        {
            var option = cluster[at];
            if (Switches.Contains(option))
            {
                switches.Add(option);
                continue;
            }
            if (!OptionsWithValue.Contains(option))
                return false;
            if (at + 1 < cluster.Length)
                values[option] = cluster[(at + 1)..];
            else if (++index < argv.Count)
                values[option] = argv[index];
            else
                return false;
            return true;
        }
        return true;
    }

    // vblade reads shelf and slot with atoi.
    private static bool TryNumber(string text, out int value) => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}

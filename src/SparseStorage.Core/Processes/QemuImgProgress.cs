using System.Globalization;
using System.Text.RegularExpressions;

namespace SparseStorage.Core.Processes;

/// <summary>
/// qemu-img's <c>-p</c> output: "    (12.50/100%)" rewritten after a carriage return as the work goes on
/// (qemu-progress.c, progress_simple_print), on standard output whether or not it is a terminal.
/// </summary>
public static partial class QemuImgProgress
{
    /// <summary>Hundredths of a percent, so that the reports keep qemu-img's resolution.</summary>
    public const long Total = 10_000;

    public static ToolOutputProgress For(string activity, IProgress<OperationProgress> sink) =>
        new(sink, line => Parse(activity, line));

    public static OperationProgress? Parse(string activity, string line)
    {
        var match = Percent().Match(line);
        if (!match.Success)
            return null;
        var percent = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return new OperationProgress(activity, $"{match.Groups[1].Value}% done", (long)Math.Round(percent * 100), Total);
    }

    [GeneratedRegex(@"^\s*\((\d{1,3}\.\d{2})/100%\)\s*$")]
    private static partial Regex Percent();
}

using System.Globalization;

namespace SparseStorage.Core.Processes;

/// <summary>An immutable description of one run of an external tool: no shell is ever involved.</summary>
public sealed record ToolCommand
{
    public ToolCommand(string tool, params IEnumerable<string> arguments)
    {
        Tool = tool;
        Arguments = arguments.ToArray();
    }

    /// <summary>The tool's name (looked up with <see cref="ToolLocator"/>) or an absolute path.</summary>
    public string Tool { get; }
    public IReadOnlyList<string> Arguments { get; }

    /// <summary>Bytes written to the tool's standard input, then closed. Secrets travel only this way.</summary>
    public ReadOnlyMemory<byte>? StandardInput { get; init; }

    /// <summary>
    /// Writes the tool's standard input while the tool runs, on a thread of its own, for input too large to hold in
    /// memory; the input is closed when it returns. Its own failure stops the tool and is thrown.
    /// </summary>
    public Action<Stream, CancellationToken>? StandardInputSource { get; init; }

    /// <summary>
    /// Reads the tool's standard output as bytes while the tool runs, on a thread of its own, for output too large or
    /// too binary to collect as text (<see cref="ToolResult.StandardOutput"/> is then empty). Its own failure stops
    /// the tool and is thrown; it should read to the end, or the tool dies of a broken pipe.
    /// </summary>
    public Action<Stream, CancellationToken>? StandardOutputSink { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Exit codes that count as success (most tools: only 0; e2fsck: 0 and 1).</summary>
    public IReadOnlyCollection<int> SuccessExitCodes { get; init; } = [0];

    /// <summary>The command as a person would type it; used for -WhatIf, verbose output and errors.</summary>
    public override string ToString() =>
        string.Join(' ', new[] { Tool }.Concat(Arguments).Select(Quote));

    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsLetterOrDigit(c) || "-_./=:,@%+".Contains(c))
            ? arg
            : "'" + arg.Replace("'", "'\\''") + "'";
}

using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;

namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>Records confirmation prompts and answers them with a fixed choice; refuses every other kind of input.</summary>
public sealed class PromptRecordingUserInterface(string answer) : PSHostUserInterface
{
    private readonly List<string> prompts = [];
    private readonly List<string> lines = [];

    public IReadOnlyList<string> Prompts => prompts;
    public IReadOnlyList<string> Lines => lines;

    public override PSHostRawUserInterface? RawUI => null;

    public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice)
    {
        prompts.Add($"{caption}: {message}");
        var index = choices.ToList().FindIndex(c => c.Label.Replace("&", "", StringComparison.Ordinal) == answer);
        return index >= 0 ? index : throw new InvalidOperationException($"No choice '{answer}' in {string.Join(", ", choices.Select(c => c.Label))}.");
    }

    public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions) =>
        throw new NotSupportedException($"Unexpected prompt for input: {caption} {message}");

    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
        throw new NotSupportedException("Unexpected credential prompt.");

    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName,
        PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) => throw new NotSupportedException("Unexpected credential prompt.");

    public override string ReadLine() => throw new NotSupportedException("Unexpected read from the host.");
    public override SecureString ReadLineAsSecureString() => throw new NotSupportedException("Unexpected secret read from the host.");

    public override void Write(string value) => lines.Add(value);
    public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => lines.Add(value);
    public override void WriteLine(string value) => lines.Add(value);
    public override void WriteErrorLine(string value) => lines.Add(value);
    public override void WriteDebugLine(string message) { }
    public override void WriteProgress(long sourceId, ProgressRecord record) { }
    public override void WriteVerboseLine(string message) { }
    public override void WriteWarningLine(string message) => lines.Add(message);
}

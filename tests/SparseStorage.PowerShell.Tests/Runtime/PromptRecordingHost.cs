using System.Globalization;
using System.Management.Automation.Host;

namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>A host for an unattended user who answers every confirmation with the given choice ("No" unless told).</summary>
public sealed class PromptRecordingHost(string answer = "No") : PSHost
{
    private readonly PromptRecordingUserInterface ui = new(answer);

    /// <summary>Every confirmation the commands asked for, as "caption: message".</summary>
    public IReadOnlyList<string> Prompts => ui.Prompts;

    /// <summary>What the commands wrote to the host, such as -WhatIf's "What if:" lines.</summary>
    public IReadOnlyList<string> Lines => ui.Lines;

    public override string Name => "PromptRecordingHost";
    public override Version Version => new(1, 0);
    public override Guid InstanceId { get; } = Guid.NewGuid();
    public override PSHostUserInterface UI => ui;
    public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;

    public override void SetShouldExit(int exitCode) { }
    public override void EnterNestedPrompt() => throw new NotSupportedException();
    public override void ExitNestedPrompt() => throw new NotSupportedException();
    public override void NotifyBeginApplication() { }
    public override void NotifyEndApplication() { }
}

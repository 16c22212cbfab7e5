namespace SparseStorage.PowerShell.Tests;

public sealed class ScriptBlockMembersTests
{
    private const string Script = """
        if ($_.IsBroken) { "broken: $($_.BrokenReason)" } else { [SparseStorage.Core.ByteSize]::Format($_.SizeBytes) + $this.Name + $other.Skipped }
        """;

    [Fact]
    public void Finds_the_members_read_from_a_variable_also_inside_strings_and_the_static_calls_on_type_literals()
    {
        ScriptBlockMembers.Read(Script, "_").Should().BeEquivalentTo(["IsBroken", "BrokenReason", "SizeBytes"]);
        ScriptBlockMembers.Read(Script, "this").Should().Equal("Name");
        ScriptBlockMembers.StaticCalls(Script).Should().Equal(("SparseStorage.Core.ByteSize", "Format"));
    }
}

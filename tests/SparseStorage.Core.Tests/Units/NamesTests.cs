using SparseStorage.Core.Pools;

namespace SparseStorage.Core.Tests.Units;

public class NamesTests
{
    [Theory]
    [InlineData("web01")]
    [InlineData("Tenant_7.data-1")]
    [InlineData("a")]
    public void Accepts_plain_names(string name) => Names.RequireValid(name, "Volume").Should().Be(name);

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("a..b")]
    [InlineData(".hidden")]
    [InlineData("-dash")]
    [InlineData("sp ace")]
    public void Refuses_names_that_could_escape_or_confuse(string name)
    {
        var act = () => Names.RequireValid(name, "Volume");
        act.Should().Throw<InvalidStorageArgumentException>().Where(e => e.ErrorId == "InvalidVolumeName" && e.Message.Contains($"'{name}'"));
    }

    [Theory]
    [InlineData("web*", "WEB01", true)]
    [InlineData("web?1", "web01", true)]
    [InlineData("web[0-1]1", "web11", true)]
    [InlineData("web*", "db01", false)]
    [InlineData("a.b", "axb", false)]
    public void Matches_PowerShell_wildcards_case_insensitively(string pattern, string name, bool expected) =>
        new NamePattern(pattern).IsMatch(name).Should().Be(expected);
}

using System.Globalization;

namespace SparseStorage.Core.Tests.Units;

public class ByteSizeTests
{
    [Theory]
    [InlineData("0", 0L)]
    [InlineData("512", 512L)]
    [InlineData("512B", 512L)]
    [InlineData("1K", 1024L)]
    [InlineData("1KB", 1024L)]
    [InlineData("1KiB", 1024L)]
    [InlineData("512M", 536870912L)]
    [InlineData("10GB", 10737418240L)]
    [InlineData("10GiB", 10737418240L)]
    [InlineData("10gb", 10737418240L)]
    [InlineData(" 10 GB ", 10737418240L)]
    [InlineData("1.5T", 1649267441664L)]
    [InlineData("2TB", 2199023255552L)]
    [InlineData("1P", 1125899906842624L)]
    [InlineData(".5K", 512L)]
    [InlineData("1.1K", 1126L)] // fractional bytes are dropped
    public void Parses_numbers_and_binary_units(string text, long expected) =>
        ByteSize.Parse(text).Bytes.Should().Be(expected);

    [Theory]
    [InlineData("-1GB", "negative")]
    [InlineData("12XB", "expected a number")]
    [InlineData("GB", "expected a number")]
    [InlineData("", "expected a number")]
    [InlineData("1iB", "expected a number")]
    [InlineData("1.2.3G", "expected a number")]
    [InlineData("9E", "largest size")]
    [InlineData("99999999999999999999", "largest size")]
    public void Rejects_bad_text_naming_it(string text, string why)
    {
        var act = () => ByteSize.Parse(text);
        act.Should().Throw<InvalidStorageArgumentException>()
            .Where(e => e.Message.Contains($"'{text}'") && e.Message.Contains(why) && e.ErrorId == "InvalidSize");
    }

    [Fact]
    public void Takes_what_PowerShell_binds()
    {
        ByteSize.From(10737418240L).Bytes.Should().Be(10737418240L); // -Size 10GB arrives as a long
        ByteSize.From(1024).Bytes.Should().Be(1024);
        ByteSize.From(1536.0).Bytes.Should().Be(1536);
        ByteSize.From("1.5K").Bytes.Should().Be(1536);
        ByteSize.From(new ByteSize(7)).Bytes.Should().Be(7);
    }

    [Fact]
    public void Rejects_negative_fractional_and_foreign_values()
    {
        FluentActions.Invoking(() => ByteSize.From(-5L)).Should().Throw<InvalidStorageArgumentException>().WithMessage("*negative*");
        FluentActions.Invoking(() => ByteSize.From(1.5)).Should().Throw<InvalidStorageArgumentException>().WithMessage("*whole number*");
        FluentActions.Invoking(() => ByteSize.From(1e30)).Should().Throw<InvalidStorageArgumentException>().WithMessage("*largest*");
        FluentActions.Invoking(() => ByteSize.From(DateTime.Now)).Should().Throw<InvalidStorageArgumentException>().WithMessage("*not a size*");
    }

    [Theory]
    [InlineData("+10GB", 10737418240L)]
    [InlineData("-5GiB", -5368709120L)]
    [InlineData(" -1.5K", -1536L)]
    [InlineData("512M", 536870912L)]
    public void Parses_signed_changes(string text, long expected) => ByteSize.ParseDelta(text).Should().Be(expected);

    [Fact]
    public void Takes_signed_numbers_as_PowerShell_binds_them()
    {
        ByteSize.ParseDelta(-5368709120L).Should().Be(-5368709120L); // -5GB arrives as a negative long
        ByteSize.ParseDelta(-1024).Should().Be(-1024);
        ByteSize.ParseDelta(-2048.0).Should().Be(-2048);
        ByteSize.ParseDelta(4096L).Should().Be(4096);
        FluentActions.Invoking(() => ByteSize.ParseDelta("--1G")).Should().Throw<InvalidStorageArgumentException>();
        FluentActions.Invoking(() => ByteSize.ParseDelta("+x")).Should().Throw<InvalidStorageArgumentException>();
    }

    [Fact]
    public void Zero_is_refused_where_it_is_meaningless()
    {
        FluentActions.Invoking(() => ByteSize.Zero.RequirePositive("-Size")).Should().Throw<InvalidStorageArgumentException>()
            .WithMessage("-Size must be greater than zero*");
        new ByteSize(1).RequirePositive("-Size").Bytes.Should().Be(1);
    }

    [Theory]
    [InlineData(0L, "0 B")]
    [InlineData(1023L, "1023 B")]
    [InlineData(1024L, "1 KiB")]
    [InlineData(1536L, "1.5 KiB")]
    [InlineData(10737418240L, "10 GiB")]
    [InlineData(2199023255552L, "2 TiB")]
    [InlineData(1234567890L, "1.15 GiB")]
    [InlineData(-2048L, "-2 KiB")]
    public void Formats_with_binary_units(long bytes, string expected) =>
        ByteSize.Format(bytes).Should().Be(expected);

    [Fact]
    public void Formatting_round_trips_through_parsing()
    {
        foreach (var bytes in new[] { 1024L, 1536L, 10737418240L, 2199023255552L })
            ByteSize.Parse(ByteSize.Format(bytes).Replace(" ", "")).Bytes.Should().Be(bytes);
    }

    [Fact]
    public void Rounds_up_to_sectors()
    {
        new ByteSize(1).RoundUpTo(512).Bytes.Should().Be(512);
        new ByteSize(512).RoundUpTo(512).Bytes.Should().Be(512);
        new ByteSize(513).RoundUpTo(512).Bytes.Should().Be(1024);
    }

    [Theory]
    [InlineData(1610612736L, "{0}", "1.5 GiB")]
    [InlineData(1610612736L, "{0:G}", "1.5 GiB")]
    [InlineData(1610612736L, "{0:D}", "1.5 GiB (1610612736 bytes)")]
    [InlineData(512L, "{0:D}", "512 B (512 bytes)")]
    public void Composite_formats_show_the_unit_and_D_adds_the_exact_count(long bytes, string format, string expected) =>
        string.Format(CultureInfo.InvariantCulture, format, new ByteSize(bytes)).Should().Be(expected);

    [Fact]
    public void An_unknown_format_is_refused()
    {
        var act = () => string.Format(CultureInfo.InvariantCulture, "{0:N0}", new ByteSize(1));

        act.Should().Throw<FormatException>().WithMessage("*N0*");
    }
}

namespace SparseStorage.Core.Tests.Units;

public sealed class IoFailureTests
{
    [Fact]
    public void A_read_the_kernel_fails_becomes_a_read_error_naming_the_file()
    {
        // Reading /proc/self/mem from offset 0 fails with EIO: the page at address 0 is never mapped.
        var act = () => IoFailure.Reading("/proc/self/mem", () => File.ReadAllText("/proc/self/mem"));

        var error = act.Should().Throw<StorageReadException>().Which;
        error.Kind.Should().Be(StorageErrorKind.ReadError);
        error.ErrorId.Should().Be("ReadFailed");
        error.Target.Should().Be("/proc/self/mem");
        error.InnerException.Should().BeOfType<IOException>().Which.HResult.Should().Be(5, "EIO");
    }

    [Fact]
    public void A_missing_file_says_so_itself_and_passes_unchanged()
    {
        var missing = Path.Combine(Path.GetTempPath(), "sparsestorage-no-such-" + Guid.NewGuid().ToString("N"));

        var act = () => IoFailure.Reading(missing, () => File.ReadAllText(missing));

        act.Should().Throw<FileNotFoundException>();
    }

    [Theory]
    [InlineData(28, true)]
    [InlineData(122, true)]
    [InlineData(5, false)]
    public void Out_of_space_is_ENOSPC_or_EDQUOT(int errno, bool outOfSpace) =>
        IoFailure.IsOutOfSpace(new IOException("x", errno)).Should().Be(outOfSpace);
}

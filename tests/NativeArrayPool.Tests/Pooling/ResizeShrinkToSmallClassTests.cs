namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// Regression: shrinking a page-or-larger block to a small (slab) class tried to split the block below the buddy
/// system's smallest order and threw IndexOutOfRangeException. Found by the NativeMemoryStream differential test
/// (Capacity set below a page).
/// </summary>
public class ResizeShrinkToSmallClassTests
{
    [Theory]
    [InlineData(4096, 469)]
    [InlineData(8192, 469)]
    [InlineData(8192, 32)]
    [InlineData(1 << 20, 3000)]
    [InlineData(4 << 20, 100)]
    [InlineData(8192, 4096)]
    public void Shrinking_a_block_to_a_small_class_keeps_the_prefix(int from, int to)
    {
        using var pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> buffer = pool.Rent(from);
        for (int i = 0; i < to; i++)
            buffer[i] = (byte)(i * 11);
        pool.Resize(ref buffer, to);
        Assert.True(buffer.Length >= to);
        for (int i = 0; i < to; i++)
            Assert.Equal((byte)(i * 11), buffer[i]);
        pool.Return(buffer);
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(0, stats.InUseBytes);
    }
}

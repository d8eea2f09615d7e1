using NativeBuffers.Analyzers.Tests.Support;

namespace NativeBuffers.Analyzers.Tests;

/// <summary>The fix for NAP001: the statements after a leaked lease's declaration go into try, its Return into finally.</summary>
public class ReturnInFinallyCodeFixTests
{
    [Fact]
    public async Task A_lease_never_returned_gets_the_rest_of_its_block_wrapped()
    {
        await CodeFixHarness.VerifyFix("""
            using NativeBuffers;
            class C
            {
                int M(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    b[0] = 1;
                    return b[0];
                }
            }
            """, """
            using NativeBuffers;
            class C
            {
                int M(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    try
                    {
                        b[0] = 1;
                        return b[0];
                    }
                    finally
                    {
                        pool.Return(b);
                    }
                }
            }
            """);
    }

    [Fact]
    public async Task A_return_skipped_by_an_early_exit_moves_into_the_finally_block()
    {
        await CodeFixHarness.VerifyFix("""
            using NativeBuffers;
            class C
            {
                int M(NativeArrayPool<int> pool, bool quick)
                {
                    var b = pool.Rent(16);
                    if (quick)
                        return 0;
                    b.AsSpan().Fill(1);
                    pool.Return(b, clearArray: true);
                    return 1;
                }
            }
            """, """
            using NativeBuffers;
            class C
            {
                int M(NativeArrayPool<int> pool, bool quick)
                {
                    var b = pool.Rent(16);
                    try
                    {
                        if (quick)
                            return 0;
                        b.AsSpan().Fill(1);
                        return 1;
                    }
                    finally
                    {
                        pool.Return(b, clearArray: true);
                    }
                }
            }
            """);
    }

    [Fact]
    public async Task A_lease_of_the_shared_pool_in_a_loop_resized_on_the_way_is_returned_each_turn()
    {
        await CodeFixHarness.VerifyFix("""
            using NativeBuffers;
            class C
            {
                void M(int n)
                {
                    for (int i = 0; i < n; i++)
                    {
                        var b = NativeArrayPool<byte>.Shared.Rent(16);
                        NativeArrayPool<byte>.Shared.Resize(ref b, 64);
                        b.AsSpan().Clear();
                    }
                }
            }
            """, """
            using NativeBuffers;
            class C
            {
                void M(int n)
                {
                    for (int i = 0; i < n; i++)
                    {
                        var b = NativeArrayPool<byte>.Shared.Rent(16);
                        try
                        {
                            NativeArrayPool<byte>.Shared.Resize(ref b, 64);
                            b.AsSpan().Clear();
                        }
                        finally
                        {
                            NativeArrayPool<byte>.Shared.Return(b);
                        }
                    }
                }
            }
            """);
    }

    [Theory]
    [InlineData("""
        using NativeBuffers;
        class C
        {
            NativeBuffer<int> M(NativeArrayPool<int> pool, bool keep)
            {
                var b = pool.Rent(16);
                if (keep)
                    return b;
                b[0] = 1;
                return default;
            }
        }
        """)]
    [InlineData("""
        using NativeBuffers;
        class C
        {
            void M(NativeArrayPool<byte> pool)
            {
                var b = pool.Rent(16);
                b = pool.Rent(32);
                pool.Return(b);
            }
        }
        """)]
    [InlineData("""
        using System;
        using NativeBuffers;
        class C
        {
            Span<int> M(NativeArrayPool<int> pool)
            {
                var b = pool.Rent(16);
                return b.AsSpan();
            }
        }
        """)]
    [InlineData("""
        using NativeBuffers;
        class C
        {
            void M(NativeArrayPool<int> pool, NativeArrayPool<int> other)
            {
                var b = pool.Rent(16);
                pool = other;
                b[0] = 1;
            }
        }
        """)]
    [InlineData("""
        using NativeBuffers;
        class C
        {
            NativeArrayPool<int> _pool = NativeArrayPool<int>.Shared;
            void Reset() => _pool = NativeArrayPool<int>.Create();
            void M()
            {
                var b = _pool.Rent(16);
                Reset();
                b[0] = 1;
            }
        }
        """)]
    public async Task No_fix_is_offered_where_the_lease_is_handed_off_overwritten_outlived_by_a_span_or_its_pool_may_change(string source)
    {
        await CodeFixHarness.VerifyNoFix(source);
    }
}

using NativeBuffers.Analyzers.Tests.Support;

namespace NativeBuffers.Analyzers.Tests;

/// <summary>NAP004: an explicit second Return (Dispose after Return, and Dispose twice, are documented no-ops).</summary>
public class DoubleReturnTests
{
    [Fact]
    public void A_second_return_is_reported_whatever_the_lease_came_from()
    {
        AnalyzerHarness.Verify("""
            using NativeBuffers;
            class C
            {
                void Twice(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    pool.Return(b);
                    pool.Return(b); // NAP004
                }

                void AfterDispose(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    b.Dispose();
                    pool.Return(b); // NAP004
                }

                void InFinallyAfterTheTryReturnedIt(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    try
                    {
                        b[0] = 1;
                        pool.Return(b);
                    }
                    finally
                    {
                        pool.Return(b); // NAP004
                    }
                }

                void Parameter(NativeArrayPool<int> pool, NativeBuffer<int> lease)
                {
                    pool.Return(lease);
                    pool.Return(lease); // NAP004
                }
            }
            """);
    }

    [Fact]
    public void Dispose_after_return_dispose_twice_and_flag_guarded_returns_are_not_reported()
    {
        AnalyzerHarness.Verify("""
            using NativeBuffers;
            class C
            {
                void UsingThenReturn(NativeArrayPool<int> pool)
                {
                    using var b = pool.Rent(16);
                    b[0] = 1;
                    pool.Return(b);
                }

                void DisposeTwice(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    pool.Return(b);
                    b.Dispose();
                    b.Dispose();
                }

                void Flag(NativeArrayPool<int> pool, bool early)
                {
                    var b = pool.Rent(16);
                    bool returned = false;
                    try
                    {
                        if (early)
                        {
                            pool.Return(b);
                            returned = true;
                        }
                    }
                    finally
                    {
                        if (!returned)
                            pool.Return(b);
                    }
                }

                void EmptyLeases(NativeArrayPool<int> pool)
                {
                    var empty = pool.Rent(0);
                    pool.Return(empty);
                    pool.Return(empty);
                    var b = pool.Rent(16);
                    pool.Resize(ref b, 0);
                    pool.Return(b);
                    pool.Return(b);
                }

                void InTryAndCatch(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    try
                    {
                        b[0] = 1;
                        pool.Return(b);
                    }
                    catch
                    {
                        pool.Return(b);
                        throw;
                    }
                }
            }
            """);
    }
}

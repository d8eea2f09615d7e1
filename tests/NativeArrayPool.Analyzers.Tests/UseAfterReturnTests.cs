using NativeBuffers.Analyzers.Tests.Support;

namespace NativeBuffers.Analyzers.Tests;

/// <summary>NAP002: a lease used after Return or Dispose on every path to the use.</summary>
public class UseAfterReturnTests
{
    [Fact]
    public void Spans_indexers_pointers_and_resizes_after_a_return_are_reported()
    {
        AnalyzerHarness.Verify("""
            using NativeBuffers;
            unsafe class C
            {
                void Span(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    pool.Return(b);
                    b.AsSpan().Fill(0); // NAP002
                }

                int Indexer(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    b.Dispose();
                    return b[0]; // NAP002
                }

                void Pointer(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    pool.Return(b);
                    *b.Pointer = 1; // NAP002
                }

                void Resize(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    pool.Return(b);
                    pool.Resize(ref b, 64); // NAP002
                }

                void AfterUsingDisposedIt(NativeArrayPool<int> pool)
                {
                    using (var b = pool.Rent(16))
                    {
                        b.Dispose();
                        b[1] = 2; // NAP002
                    }
                }
            }
            """);
    }

    [Fact]
    public void Reading_the_length_or_validity_after_a_return_is_not_reported()
    {
        AnalyzerHarness.Verify("""
            using NativeBuffers;
            class C
            {
                bool M(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    pool.Return(b);
                    return b.Length > 0 && !b.IsValid && !b.IsEmpty && b.ToString() != "";
                }
            }
            """);
    }

    [Fact]
    public void A_use_after_a_return_on_only_some_paths_after_a_new_rent_or_of_an_empty_lease_is_not_reported()
    {
        AnalyzerHarness.Verify("""
            using NativeBuffers;
            class C
            {
                void SomePaths(NativeArrayPool<int> pool, bool early)
                {
                    var b = pool.Rent(16);
                    if (early)
                        pool.Return(b);
                    if (!early)
                    {
                        b[0] = 1;
                        pool.Return(b);
                    }
                }

                void Rerented(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    pool.Return(b);
                    b = pool.Rent(32);
                    b[0] = 1;
                    pool.Return(b);
                }

                void EmptyLeaseResizedAfterItsReturn(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(0);
                    pool.Return(b);
                    pool.Resize(ref b, 100);
                    b[0] = 1;
                    pool.Resize(ref b, 0);
                }

                void Loop(NativeArrayPool<int> pool, int n)
                {
                    NativeBuffer<int> b = default;
                    for (int i = 0; i < n; i++)
                    {
                        b = pool.Rent(8);
                        b[0] = i;
                        pool.Return(b);
                    }
                }
            }
            """);
    }
}

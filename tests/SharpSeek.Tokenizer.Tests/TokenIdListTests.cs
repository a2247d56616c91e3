namespace SharpSeek.Tokenizer.Tests;

/// <summary>The JSON id-array format the CLI reads and writes.</summary>
public sealed class TokenIdListTests
{
    [Fact]
    public void IdsRoundTripThroughJson()
    {
        int[] ids = [0, 19923, 128814, 7];
        Assert.Equal("[0,19923,128814,7]", TokenIdList.ToJson(ids));
        Assert.Equal(ids, TokenIdList.Parse(" [0, 19923,\n128814 ,7] "));
        Assert.Equal("[]", TokenIdList.ToJson([]));
        Assert.Empty(TokenIdList.Parse("[]"));
    }

    [Theory]
    [InlineData("[1, 2", "expected a JSON array of token ids")]
    [InlineData("{\"ids\": [1]}", "got a JSON object")]
    [InlineData("[1, \"2\"]", "element 1 of the token id array is \"2\"")]
    [InlineData("[1.5]", "element 0 of the token id array is 1.5")]
    [InlineData("[3000000000]", "not a 32-bit integer")]
    public void MalformedArraysAreRejectedWithThePosition(string json, string expected)
    {
        Assert.Contains(expected, Assert.Throws<FormatException>(() => TokenIdList.Parse(json)).Message);
    }
}

"""LangChain tools: pure logic in plain functions, thin @tool wrappers."""

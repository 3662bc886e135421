"""perpwatch: indexes leveraged DeFi positions into isolated and cross margin accounts."""
